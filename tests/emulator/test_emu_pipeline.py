"""The request pipeline without HTTP: JSON bodies for v2 routes, and custom routes (emulator only)."""

from __future__ import annotations

import json

from stripe_emulator.app import EmulatorApp
from stripe_emulator.params import Int, Obj, Str
from stripe_emulator.resources import ROUTES
from stripe_emulator.resources.kinds import CUSTOMER
from stripe_emulator.routing import Call, RouteTable
from stripe_emulator.store import JSON
from stripe_emulator.wire import HttpRequest

AUTH = {"authorization": "Bearer sk_test_pipeline"}
v2 = RouteTable()


@v2.post("/v2/test/echo", params=Obj({"name": Str(required=True), "count": Int()}), returns=CUSTOMER, api="v2")
def echo(call: Call) -> JSON:
    return {"object": "v2.test.echo", "params": call.params}


def test_v2_routes_take_json_bodies() -> None:
    """API v2 sends JSON bodies (https://docs.stripe.com/api-v2-overview); the router serves such routes."""
    app = EmulatorApp([*ROUTES, *v2])
    response = app.handle(
        HttpRequest(
            "POST",
            "/v2/test/echo",
            headers={**AUTH, "content-type": "application/json"},
            body=json.dumps({"name": "x", "count": 3}).encode(),
        )
    )
    assert response.status == 200
    assert json.loads(response.body)["params"] == {"name": "x", "count": 3}

    unknown = app.handle(
        HttpRequest("POST", "/v2/test/echo", headers=AUTH, body=json.dumps({"name": "x", "other": 1}).encode())
    )
    assert unknown.status == 400
    assert json.loads(unknown.body)["error"]["code"] == "parameter_unknown"


def test_path_parameters_are_url_decoded() -> None:
    """The SDK percent-encodes ids in paths (``sanitize_id``); the router decodes them."""
    app = EmulatorApp()
    response = app.handle(HttpRequest("GET", "/v1/customers/cus%20odd", headers=AUTH))
    assert response.status == 404
    assert json.loads(response.body)["error"]["message"] == "No such customer: 'cus odd'"
