"""Prices (https://docs.stripe.com/api/prices): lookup keys, filters, tax behaviour, metered prices."""

from __future__ import annotations

from typing import Any

import pytest
import stripe

from tests.emulator.support import Factory, metadata_of, unchecked


def test_create_recurring_and_one_time(client: stripe.StripeClient, make: Factory) -> None:
    """A price is ``recurring`` with ``recurring`` set, else ``one_time``
    (https://docs.stripe.com/api/prices/object#price_object-type)."""
    product = make.product()
    seat = make.price(product=product.id, currency="USD", unit_amount=3500, recurring={"interval": "month"})
    assert seat.id.startswith("price_")
    assert (seat.object, seat.type, seat.currency, seat.unit_amount, seat.product) == (
        "price",
        "recurring",
        "usd",
        3500,
        product.id,
    )
    assert str(seat.unit_amount_decimal) == "3500"
    assert seat.recurring is not None
    assert (seat.recurring.interval, seat.recurring.interval_count, seat.recurring.usage_type) == (
        "month",
        1,
        "licensed",
    )
    assert seat.recurring.meter is None
    assert (seat.active, seat.billing_scheme, seat.tax_behavior, seat.lookup_key) == (
        True,
        "per_unit",
        "unspecified",
        None,
    )

    once = make.price(product=product.id, unit_amount_decimal="12.5")
    assert (once.type, once.recurring, once.unit_amount) == ("one_time", None, None)
    assert str(once.unit_amount_decimal) == "12.5"


def test_product_data_creates_the_product(client: stripe.StripeClient, make: Factory, uid: str) -> None:
    """``product_data`` creates the product inline (https://docs.stripe.com/api/prices/create#create_price-product_data)."""
    price = make.price(product_data={"name": f"{uid} inline", "metadata": {"k": "v"}})
    product = client.v1.products.retrieve(str(price.product))
    assert (product.name, metadata_of(product)) == (f"{uid} inline", {"k": "v"})
    client.v1.prices.update(price.id, {"active": False})
    client.v1.products.update(product.id, {"active": False})


def test_product_and_product_data_are_exclusive(client: stripe.StripeClient, make: Factory) -> None:
    """Exactly one of ``product`` and ``product_data`` (https://docs.stripe.com/api/prices/create)."""
    product = make.product()
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.prices.create(
            {"currency": "usd", "unit_amount": 1, "product": product.id, "product_data": {"name": "x"}}
        )
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.prices.create({"currency": "usd", "unit_amount": 1})


def test_unknown_product_is_resource_missing(client: stripe.StripeClient) -> None:
    """A price for an unknown product is ``resource_missing`` on ``product`` (https://docs.stripe.com/api/prices/create)."""
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.prices.create({"currency": "usd", "unit_amount": 1, "product": "prod_doesnotexist0"})
    assert (caught.value.http_status, caught.value.code, caught.value.param) == (400, "resource_missing", "product")


def test_amount_cannot_be_updated(client: stripe.StripeClient, make: Factory) -> None:
    """A price's amount is immutable: update takes no ``unit_amount`` (https://docs.stripe.com/api/prices/update)."""
    price = make.price()
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.prices.update(price.id, unchecked({"unit_amount": 2000}))
    assert (caught.value.code, caught.value.param) == ("parameter_unknown", "unit_amount")


def test_lookup_key_is_unique(client: stripe.StripeClient, make: Factory, uid: str) -> None:
    """A lookup key in use cannot be taken without ``transfer_lookup_key``, even from an archived price
    (https://docs.stripe.com/api/prices/create#create_price-lookup_key)."""
    holder = make.price(lookup_key=f"{uid}_seat")
    client.v1.prices.update(holder.id, {"active": False})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        make.price(lookup_key=f"{uid}_seat")
    assert caught.value.http_status == 400
    assert caught.value.param == "lookup_key"
    assert caught.value.user_message == f"A price (`{holder.id}`) already uses that lookup key."


def test_transfer_lookup_key_on_create(client: stripe.StripeClient, make: Factory, uid: str) -> None:
    """``transfer_lookup_key=true`` moves the key to the new price; the old one keeps its state
    (https://docs.stripe.com/api/prices/create#create_price-transfer_lookup_key)."""
    old = make.price(lookup_key=f"{uid}_seat", unit_amount=3500)
    new = make.price(lookup_key=f"{uid}_seat", unit_amount=3900, transfer_lookup_key=True)
    assert new.lookup_key == f"{uid}_seat"
    previous = client.v1.prices.retrieve(old.id)
    assert (previous.lookup_key, previous.active) == (None, True)
    found = client.v1.prices.list({"lookup_keys": [f"{uid}_seat"]})
    assert [price.id for price in found.data] == [new.id]


def test_transfer_lookup_key_on_update(client: stripe.StripeClient, make: Factory, uid: str) -> None:
    """Update can take a key from another price with ``transfer_lookup_key``
    (https://docs.stripe.com/api/prices/update#update_price-transfer_lookup_key)."""
    one = make.price(lookup_key=f"{uid}_k")
    two = make.price()
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.prices.update(two.id, {"lookup_key": f"{uid}_k"})
    moved = client.v1.prices.update(two.id, {"lookup_key": f"{uid}_k", "transfer_lookup_key": True})
    assert moved.lookup_key == f"{uid}_k"
    assert client.v1.prices.retrieve(one.id).lookup_key is None
    assert client.v1.prices.update(two.id, {"lookup_key": f"{uid}_k"}).lookup_key == f"{uid}_k"  # its own key


def test_list_by_lookup_keys_and_active(client: stripe.StripeClient, make: Factory, uid: str) -> None:
    """``lookup_keys`` (up to 10) finds prices by key; ``active`` narrows to live ones
    (https://docs.stripe.com/api/prices/list#list_prices-lookup_keys)."""
    usd = make.price(lookup_key=f"{uid}_usd", currency="usd")
    eur = make.price(lookup_key=f"{uid}_eur", currency="eur")
    old = make.price(lookup_key=f"{uid}_old")
    client.v1.prices.update(old.id, {"active": False})
    keys = [f"{uid}_usd", f"{uid}_eur", f"{uid}_old", f"{uid}_none"]

    everything = client.v1.prices.list({"lookup_keys": keys})
    assert {price.id for price in everything.data} == {usd.id, eur.id, old.id}
    live = client.v1.prices.list({"lookup_keys": keys, "active": True})
    assert {price.id for price in live.data} == {usd.id, eur.id}
    euro = client.v1.prices.list({"lookup_keys": keys, "currency": "eur"})
    assert [price.id for price in euro.data] == [eur.id]

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.prices.list({"lookup_keys": [f"{uid}_{index}" for index in range(11)]})
    assert caught.value.http_status == 400


def test_list_filters(client: stripe.StripeClient, make: Factory) -> None:
    """Prices filter by ``product``, ``type`` and ``recurring[usage_type]`` (https://docs.stripe.com/api/prices/list)."""
    product = make.product()
    meter = make.meter()
    one_time = make.price(product=product.id)
    licensed = make.price(product=product.id, recurring={"interval": "month"})
    metered = make.price(
        product=product.id, recurring={"interval": "month", "usage_type": "metered", "meter": meter.id}
    )
    by_product = client.v1.prices.list({"product": product.id})
    assert [price.id for price in by_product.data] == [metered.id, licensed.id, one_time.id]
    recurring = client.v1.prices.list({"product": product.id, "type": "recurring"})
    assert [price.id for price in recurring.data] == [metered.id, licensed.id]
    usage = client.v1.prices.list({"product": product.id, "recurring": {"usage_type": "metered"}})
    assert [price.id for price in usage.data] == [metered.id]


def test_tax_behavior_is_set_once(client: stripe.StripeClient, make: Factory) -> None:
    """``tax_behavior`` may go from ``unspecified`` to a value once and never change again
    (https://docs.stripe.com/api/prices/update#update_price-tax_behavior)."""
    price = make.price()
    assert price.tax_behavior == "unspecified"
    assert client.v1.prices.update(price.id, {"tax_behavior": "exclusive"}).tax_behavior == "exclusive"
    assert client.v1.prices.update(price.id, {"tax_behavior": "exclusive"}).tax_behavior == "exclusive"
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.prices.update(price.id, {"tax_behavior": "inclusive"})
    assert caught.value.http_status == 400
    assert caught.value.user_message == "You cannot update `tax_behavior` field once it has been specified."
    assert client.v1.prices.retrieve(price.id).tax_behavior == "exclusive"


def test_metered_price_needs_a_meter(client: stripe.StripeClient, make: Factory) -> None:
    """Since 2025-03-31.basil a metered price must name an existing meter
    (https://docs.stripe.com/changelog/basil/2025-03-31/deprecate-legacy-usage-based-billing)."""
    product = make.product()
    base: dict[str, Any] = {"currency": "usd", "unit_amount": 500, "product": product.id}
    with pytest.raises(stripe.InvalidRequestError) as no_meter:
        client.v1.prices.create(unchecked({**base, "recurring": {"interval": "month", "usage_type": "metered"}}))
    assert "metered prices must be backed by meters" in str(no_meter.value.user_message)

    with pytest.raises(stripe.InvalidRequestError) as unknown_meter:
        client.v1.prices.create(
            unchecked(
                {**base, "recurring": {"interval": "month", "usage_type": "metered", "meter": "mtr_doesnotexist"}}
            )
        )
    assert unknown_meter.value.http_status in (400, 404)

    meter = make.meter()
    price = make.price(
        product=product.id, unit_amount=500, recurring={"interval": "month", "usage_type": "metered", "meter": meter.id}
    )
    assert price.recurring is not None
    assert (price.recurring.usage_type, price.recurring.meter) == ("metered", meter.id)


def test_deactivated_meter_cannot_back_a_price(client: stripe.StripeClient, make: Factory) -> None:
    """ "You can't attach a deactivated meter to a price" (https://docs.stripe.com/api/billing/meter/deactivate)."""
    meter = make.meter()
    client.v1.billing.meters.deactivate(meter.id)
    with pytest.raises(stripe.InvalidRequestError):
        make.price(recurring={"interval": "month", "usage_type": "metered", "meter": meter.id})


def test_per_currency_prices_of_one_product(client: stripe.StripeClient, make: Factory, uid: str) -> None:
    """One product, one price per currency, each with its own lookup key
    (https://docs.stripe.com/products-prices/pricing-models#multicurrency)."""
    product = make.product()
    usd = make.price(product=product.id, currency="usd", unit_amount=3500, lookup_key=f"{uid}_seat_usd")
    eur = make.price(product=product.id, currency="eur", unit_amount=3200, lookup_key=f"{uid}_seat_eur")
    found = client.v1.prices.list({"lookup_keys": [f"{uid}_seat_usd", f"{uid}_seat_eur"], "active": True})
    assert {(price.currency, price.unit_amount) for price in found.data} == {("usd", 3500), ("eur", 3200)}
    assert {price.id for price in found.data} == {usd.id, eur.id}


def test_default_price_cannot_be_archived(client: stripe.StripeClient, make: Factory) -> None:
    """The default price of a product cannot be archived (https://docs.stripe.com/api/products/update#update_product-default_price)."""
    price = make.price()
    client.v1.products.update(str(price.product), {"default_price": price.id})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.prices.update(price.id, {"active": False})
