"""Products (https://docs.stripe.com/api/products)."""

from __future__ import annotations

import pytest
import stripe

from tests.emulator.support import Factory, metadata_of


def test_create_with_chosen_id_retrieve_update(client: stripe.StripeClient, make: Factory, uid: str) -> None:
    """A product may be given its own ``id`` (https://docs.stripe.com/api/products/create#create_product-id)."""
    product = make.product(
        id=f"prod_{uid}",
        name="Subscriber seat",
        unit_label="seat",
        description="One subscriber, one month",
        metadata={"catalog": "seat"},
    )
    assert product.id == f"prod_{uid}"
    assert (product.object, product.active, product.type, product.default_price) == ("product", True, "service", None)
    assert product.unit_label == "seat"

    updated = client.v1.products.update(product.id, {"name": "Seat", "description": ""})
    assert (updated.name, updated.description) == ("Seat", None)
    assert metadata_of(client.v1.products.retrieve(product.id)) == {"catalog": "seat"}


def test_duplicate_id_is_rejected(client: stripe.StripeClient, make: Factory, uid: str) -> None:
    """Product ids are unique (https://docs.stripe.com/api/products/create#create_product-id)."""
    make.product(id=f"prod_{uid}")
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.products.create({"id": f"prod_{uid}", "name": "again"})
    assert caught.value.http_status == 400


def test_list_filters_active_and_ids(client: stripe.StripeClient, make: Factory) -> None:
    """``active`` and ``ids`` filter the product list (https://docs.stripe.com/api/products/list)."""
    live = make.product()
    archived = make.product(active=False)
    ids = [live.id, archived.id]
    assert {product.id for product in client.v1.products.list({"ids": ids}).data} == set(ids)
    assert [product.id for product in client.v1.products.list({"ids": ids, "active": True}).data] == [live.id]
    assert [product.id for product in client.v1.products.list({"ids": ids, "active": False}).data] == [archived.id]


def test_a_product_with_prices_cannot_be_deleted(client: stripe.StripeClient, make: Factory) -> None:
    """A product with prices can only be archived, not deleted (https://docs.stripe.com/api/products/delete)."""
    price = make.price()
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.products.delete(str(price.product))
    bare = client.v1.products.create({"name": "no prices"})
    assert client.v1.products.delete(bare.id).deleted is True
