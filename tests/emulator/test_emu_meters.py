"""Billing meters (https://docs.stripe.com/api/billing/meter)."""

from __future__ import annotations

import pytest
import stripe

from tests.emulator.support import Factory, unchecked


def test_create_with_defaults(make: Factory) -> None:
    """A meter maps customers by ``stripe_customer_id`` and reads ``value`` unless told otherwise
    (https://docs.stripe.com/api/billing/meter/create)."""
    meter = make.meter(display_name="Cases", default_aggregation={"formula": "sum"})
    assert meter.object == "billing.meter"
    assert meter.id.startswith("mtr_")
    assert (meter.status, meter.livemode, meter.display_name) == ("active", False, "Cases")
    assert meter.customer_mapping.to_dict() == {"event_payload_key": "stripe_customer_id", "type": "by_id"}
    assert meter.value_settings.to_dict() == {"event_payload_key": "value"}
    assert meter.default_aggregation.formula == "sum"
    assert meter.status_transitions.deactivated_at is None
    assert meter.event_time_window is None


def test_create_with_custom_keys(make: Factory) -> None:
    """Payload keys are configurable (https://docs.stripe.com/api/billing/meter/create)."""
    meter = make.meter(
        customer_mapping={"type": "by_id", "event_payload_key": "customer"},
        value_settings={"event_payload_key": "count"},
        default_aggregation={"formula": "count"},
    )
    assert meter.customer_mapping.event_payload_key == "customer"
    assert meter.value_settings.event_payload_key == "count"
    assert meter.default_aggregation.formula == "count"


def test_event_name_is_unique(client: stripe.StripeClient, make: Factory) -> None:
    """Only one meter per event name (https://docs.stripe.com/billing/subscriptions/usage-based/meters/configure)."""
    meter = make.meter()
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing.meters.create(
            {"event_name": meter.event_name, "display_name": "again", "default_aggregation": {"formula": "sum"}}
        )
    assert caught.value.http_status == 400


def test_deactivate_reactivate_and_list_by_status(client: stripe.StripeClient, make: Factory) -> None:
    """Deactivating sets ``status: inactive`` and ``deactivated_at``; lists filter on ``status``
    (https://docs.stripe.com/api/billing/meter/deactivate, .../reactivate, .../list)."""
    meter = make.meter()
    deactivated = client.v1.billing.meters.deactivate(meter.id)
    assert deactivated.status == "inactive"
    assert deactivated.status_transitions.deactivated_at is not None

    inactive_ids = [item.id for item in client.v1.billing.meters.list({"status": "inactive"}).auto_paging_iter()]
    assert meter.id in inactive_ids
    assert client.v1.billing.meters.retrieve(meter.id).status == "inactive"

    reactivated = client.v1.billing.meters.reactivate(meter.id)
    assert reactivated.status == "active"
    active_ids = [item.id for item in client.v1.billing.meters.list({"status": "active"}).auto_paging_iter()]
    assert meter.id in active_ids


def test_update_changes_display_name_only(client: stripe.StripeClient, make: Factory) -> None:
    """Only ``display_name`` can change (https://docs.stripe.com/api/billing/meter/update)."""
    meter = make.meter()
    assert client.v1.billing.meters.update(meter.id, {"display_name": "renamed"}).display_name == "renamed"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.billing.meters.update(meter.id, unchecked({"event_name": "other"}))
    assert caught.value.code == "parameter_unknown"
