"""Products (https://docs.stripe.com/api/products).

- ``id`` may be chosen by the caller; it must be unique.
- A product with prices cannot be deleted (archive it with ``active=false`` instead).
- ``default_price`` must be an active price of the product; that price cannot be archived.
"""

from __future__ import annotations

from typing import Any

from ..errors import StripeError, invalid_request
from ..lists import list_params, paginate
from ..params import (
    EXPAND,
    UNSET,
    Bool,
    Enum,
    Float,
    ListOf,
    Metadata,
    Obj,
    RangeFilter,
    Str,
    Unsupported,
    apply_metadata,
    in_range,
)
from ..routing import Call, RouteTable
from ..store import JSON
from .kinds import PRICE, PRODUCT

routes = RouteTable()

PACKAGE_DIMENSIONS = Obj(
    {
        "height": Float(required=True),
        "length": Float(required=True),
        "weight": Float(required=True),
        "width": Float(required=True),
    },
    emptyable=True,
)
MARKETING_FEATURES = ListOf(Obj({"name": Str(required=True, max_length=80)}), emptyable=True)

CREATE = Obj(
    {
        "active": Bool(),
        "default_price_data": Unsupported(),
        "description": Str(max_length=40000),
        "expand": EXPAND,
        "id": Str(),
        "images": ListOf(Str(), max_items=8),
        "marketing_features": MARKETING_FEATURES,
        "metadata": Metadata(),
        "name": Str(required=True, max_length=250),
        "package_dimensions": PACKAGE_DIMENSIONS,
        "shippable": Bool(),
        "statement_descriptor": Str(max_length=22),
        "tax_code": Str(),
        "tax_details": Unsupported(),
        "type": Enum("good", "service"),
        "unit_label": Str(max_length=12),
        "url": Str(),
    }
)
UPDATE = Obj(
    {
        "active": Bool(),
        "default_price": Str(),
        "description": Str(emptyable=True, max_length=40000),
        "expand": EXPAND,
        "images": ListOf(Str(), emptyable=True, max_items=8),
        "marketing_features": MARKETING_FEATURES,
        "metadata": Metadata(),
        "name": Str(max_length=250),
        "package_dimensions": PACKAGE_DIMENSIONS,
        "shippable": Bool(),
        "statement_descriptor": Str(max_length=22),
        "tax_code": Str(emptyable=True),
        "tax_details": Unsupported(),
        "unit_label": Str(emptyable=True, max_length=12),
        "url": Str(emptyable=True),
    }
)
RETRIEVE = Obj({"expand": EXPAND})
DELETE = Obj({})
LIST = list_params(
    active=Bool(),
    created=RangeFilter(),
    ids=ListOf(Str()),
    shippable=Bool(),
    type=Enum("good", "service"),
    url=Str(),
)

PLAIN_FIELDS = (
    "active",
    "description",
    "name",
    "shippable",
    "statement_descriptor",
    "tax_code",
    "unit_label",
    "url",
)


def _apply(call: Call, product: JSON) -> None:
    params = call.params
    for name in PLAIN_FIELDS:
        if name in params:
            product[name] = None if params[name] is UNSET else params[name]
    if "images" in params:
        product["images"] = params["images"] or []
    if "marketing_features" in params:
        features = params["marketing_features"] or []
        product["marketing_features"] = [{"name": feature["name"]} for feature in features]
    if "package_dimensions" in params:
        dimensions = params["package_dimensions"]
        product["package_dimensions"] = None if dimensions is UNSET else dimensions
    if "metadata" in params:
        product["metadata"] = apply_metadata(product["metadata"], params["metadata"])
    if "default_price" in params:
        product["default_price"] = _checked_default_price(call, product, params["default_price"])
    product["updated"] = call.now


def _checked_default_price(call: Call, product: JSON, price_id: str) -> str:
    price = call.store.require(PRICE, price_id, param="default_price", status=400)
    if price["product"] != product["id"]:
        raise invalid_request(
            f"The price `{price_id}` does not belong to the product `{product['id']}`.",
            param="default_price",
        )
    if not price["active"]:
        raise invalid_request(
            f"The price `{price_id}` is archived and cannot be the default price of a product.",
            param="default_price",
        )
    return price_id


@routes.post("/v1/products", params=CREATE, returns=PRODUCT)
def create(call: Call) -> JSON:
    product_id = call.params.get("id") or call.store.new_id(PRODUCT)
    if call.store.exists(PRODUCT, product_id):
        raise StripeError(400, "Product already exists.", code="resource_already_exists", param="id")
    product: JSON = {
        "id": product_id,
        "object": "product",
        "active": True,
        "created": call.now,
        "default_price": None,
        "description": None,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": {},
        "name": call.params["name"],
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": call.params.get("type", "service"),
        "unit_label": None,
        "updated": call.now,
        "url": None,
    }
    _apply(call, product)
    return call.store.insert(PRODUCT, product)


def create_inline(call: Call, data: dict[str, Any]) -> str:
    """Create the product of a price's ``product_data``; returns its id."""
    inline = Call(call.store, dict(data), {}, call.now, "/v1/products")
    return str(create(inline)["id"])


@routes.get("/v1/products/{id}", params=RETRIEVE, returns=PRODUCT)
def retrieve(call: Call) -> JSON:
    return call.store.require(PRODUCT, call.path["id"])


@routes.post("/v1/products/{id}", params=UPDATE, returns=PRODUCT)
def update(call: Call) -> JSON:
    product = call.store.require(PRODUCT, call.path["id"])
    _apply(call, product)
    return call.store.save(PRODUCT, product)


@routes.delete("/v1/products/{id}", params=DELETE, returns=PRODUCT)
def delete(call: Call) -> JSON:
    product = call.store.require(PRODUCT, call.path["id"])
    if call.store.all(PRICE, lambda price: price["product"] == product["id"]):
        raise invalid_request(
            "This product cannot be deleted because it has one or more user-created prices.",
            param="id",
        )
    call.store.remove(PRODUCT, product["id"])
    return {"id": product["id"], "object": "product", "deleted": True}


@routes.get("/v1/products", params=LIST, returns=PRODUCT, is_list=True)
def list_products(call: Call) -> JSON:
    params = call.params
    ids = set(params["ids"]) if "ids" in params else None

    def matches(product: JSON) -> bool:
        return (
            (ids is None or product["id"] in ids)
            and all(product[name] == params[name] for name in ("active", "shippable", "type", "url") if name in params)
            and in_range(product["created"], params.get("created"))
        )

    return paginate(call, PRODUCT, call.store.all(PRODUCT, matches))
