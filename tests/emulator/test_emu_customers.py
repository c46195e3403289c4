"""Customers (https://docs.stripe.com/api/customers) and invoice items as the way to bill them."""

from __future__ import annotations

from typing import Any, cast

import pytest
import stripe

from tests.emulator.support import Factory, eventually, metadata_of


def test_create_retrieve_update(client: stripe.StripeClient, make: Factory, uid: str) -> None:
    """Create, retrieve and update a customer (https://docs.stripe.com/api/customers/create,
    https://docs.stripe.com/api/customers/update)."""
    created = make.customer(name="Acme", email=f"{uid}@example.com", metadata={"funder_id": "f1"})
    assert created.id.startswith("cus_")
    assert (created.object, created.livemode) == ("customer", False)
    assert "deleted" not in created
    assert created.currency is None  # not billed yet
    assert (created.name, created.email, metadata_of(created)) == (
        "Acme",
        f"{uid}@example.com",
        {"funder_id": "f1"},
    )

    updated = client.v1.customers.update(created.id, {"description": "funder f1", "name": "Acme Ltd"})
    assert (updated.name, updated.description) == ("Acme Ltd", "funder f1")
    assert client.v1.customers.retrieve(created.id).name == "Acme Ltd"


def test_metadata_keys_are_set_and_unset(client: stripe.StripeClient, make: Factory) -> None:
    """Metadata merges on update; an empty value removes a key, an empty ``metadata`` removes all
    (https://docs.stripe.com/api/metadata)."""
    customer = make.customer(metadata={"a": "1", "b": "2"})
    merged = client.v1.customers.update(customer.id, {"metadata": {"a": "", "c": "3"}})
    assert metadata_of(merged) == {"b": "2", "c": "3"}
    cleared = client.v1.customers.update(customer.id, {"metadata": ""})
    assert metadata_of(cleared) == {}


def test_list_filters_by_email(client: stripe.StripeClient, make: Factory, uid: str) -> None:
    """``email`` filters the list, case-sensitively and exactly (https://docs.stripe.com/api/customers/list)."""
    mine = make.customer(email=f"{uid}@example.com")
    make.customer(email=f"other-{uid}@example.com")
    listed = client.v1.customers.list({"email": f"{uid}@example.com"})
    assert [customer.id for customer in listed.data] == [mine.id]


def test_deleted_customer_is_retrieved_with_deleted_true(client: stripe.StripeClient, make: Factory, uid: str) -> None:
    """Retrieving a deleted customer answers 200 with ``deleted: true``; it leaves lists
    (https://docs.stripe.com/api/customers/retrieve, https://docs.stripe.com/api/customers/delete)."""
    customer = make.customer(email=f"{uid}@example.com")
    deleted = client.v1.customers.delete(customer.id)
    assert (deleted.id, deleted.object, deleted.deleted) == (customer.id, "customer", True)

    retrieved = client.v1.customers.retrieve(customer.id)
    assert retrieved.last_response is not None
    assert retrieved.last_response.code == 200
    assert retrieved.id == customer.id
    assert retrieved.to_dict() == {"id": customer.id, "object": "customer", "deleted": True}

    assert client.v1.customers.list({"email": f"{uid}@example.com"}).data == []


def test_deleted_customer_cannot_be_updated_or_deleted_again(client: stripe.StripeClient, make: Factory) -> None:
    """Updating or deleting a deleted customer answers ``resource_missing``
    (https://docs.stripe.com/api/customers/delete: "Permanently deletes a customer. It cannot be undone.")."""
    customer = make.customer()
    client.v1.customers.delete(customer.id)
    with pytest.raises(stripe.InvalidRequestError) as updating:
        client.v1.customers.update(customer.id, {"name": "again"})
    assert updating.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError) as deleting:
        client.v1.customers.delete(customer.id)
    assert deleting.value.code == "resource_missing"


def test_invoice_item_sets_the_customer_currency(client: stripe.StripeClient, make: Factory) -> None:
    """A customer has no currency until billed; its first invoice item sets it
    (https://docs.stripe.com/api/customers/object#customer_object-currency)."""
    customer = make.customer()
    item = client.v1.invoice_items.create(
        {"customer": customer.id, "amount": 1000, "currency": "eur", "description": "setup"}
    )
    assert item.id.startswith("ii_")
    assert (item.object, item.amount, item.currency, item.customer) == ("invoiceitem", 1000, "eur", customer.id)
    assert item.invoice is None
    assert client.v1.customers.retrieve(customer.id).currency == "eur"
    client.v1.invoice_items.delete(item.id)


def test_invoice_item_in_another_currency_is_rejected(client: stripe.StripeClient, make: Factory) -> None:
    """A customer cannot be billed in two currencies: "You cannot combine currencies on a single customer"
    (https://docs.stripe.com/billing/customer#currency)."""
    customer = make.customer()
    first = client.v1.invoice_items.create({"customer": customer.id, "amount": 500, "currency": "eur"})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoice_items.create({"customer": customer.id, "amount": 500, "currency": "usd"})
    assert caught.value.http_status == 400
    assert "cannot combine currencies on a single customer" in str(caught.value.user_message)
    assert "eur" in str(caught.value.user_message)
    client.v1.invoice_items.delete(first.id)


def test_invoice_item_from_a_one_time_price(client: stripe.StripeClient, make: Factory) -> None:
    """An invoice item can be priced by a one-time price via ``pricing[price]``; amount = unit amount ×
    quantity, currency from the price (https://docs.stripe.com/api/invoiceitems/create)."""
    customer = make.customer()
    price = make.price(currency="usd", unit_amount=250)
    item = client.v1.invoice_items.create({"customer": customer.id, "pricing": {"price": price.id}, "quantity": 3})
    assert (item.amount, item.currency, item.quantity) == (750, "usd", 3)
    assert item.pricing is not None
    assert item.pricing.price_details is not None
    assert item.pricing.price_details.price == price.id
    client.v1.invoice_items.delete(item.id)


def test_invoice_item_for_a_deleted_customer_is_rejected(client: stripe.StripeClient, make: Factory) -> None:
    """A deleted customer cannot be billed (https://docs.stripe.com/api/customers/delete)."""
    customer = make.customer()
    client.v1.customers.delete(customer.id)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoice_items.create({"customer": customer.id, "amount": 500, "currency": "usd"})
    assert caught.value.code == "resource_missing"


def test_invoice_items_list_retrieve_delete(client: stripe.StripeClient, make: Factory) -> None:
    """Invoice items are listed by customer, retrieved, and deleted while pending
    (https://docs.stripe.com/api/invoiceitems/list, https://docs.stripe.com/api/invoiceitems/delete)."""
    customer = make.customer()
    other = make.customer()
    one = client.v1.invoice_items.create({"customer": customer.id, "amount": 100, "currency": "usd"})
    two = client.v1.invoice_items.create({"customer": customer.id, "amount": 200, "currency": "usd"})
    client.v1.invoice_items.create({"customer": other.id, "amount": 300, "currency": "usd"})

    listed = client.v1.invoice_items.list({"customer": customer.id})
    assert [item.id for item in listed.data] == [two.id, one.id]
    assert client.v1.invoice_items.retrieve(one.id).amount == 100

    deleted = client.v1.invoice_items.delete(one.id)
    assert (deleted.id, deleted.deleted) == (one.id, True)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.invoice_items.retrieve(one.id)
    assert (caught.value.http_status, caught.value.code) == (404, "resource_missing")
    client.v1.invoice_items.delete(two.id)


def test_deleting_a_customer_cancels_its_subscriptions(client: stripe.StripeClient, make: Factory) -> None:
    """Deleting a customer "immediately cancels any active subscriptions on the customer"
    (https://docs.stripe.com/api/customers/delete)."""
    customer = make.customer()
    catalog = make.catalog()
    subscription = make.subscription(customer.id, [{"price": catalog.seat.id}])
    client.v1.customers.delete(customer.id)
    assert client.v1.subscriptions.retrieve(subscription.id).status == "canceled"


def test_search_by_metadata(client: stripe.StripeClient, make: Factory, uid: str) -> None:
    """Customers are searched by ``metadata`` (and email, name...), never listed by it; Stripe's index
    lags, so the test polls (https://docs.stripe.com/search#query-fields-for-customers)."""
    mine = make.customer(metadata={"incytes_funder_id": uid})
    make.customer(metadata={"incytes_funder_id": f"{uid}-other"})

    def found() -> list[str] | None:
        result = client.v1.customers.search({"query": f"metadata['incytes_funder_id']:'{uid}'"})
        return [customer.id for customer in result.data] or None

    assert eventually(found) == [mine.id]


def test_search_pages(emulator_client: stripe.StripeClient) -> None:
    """Emulator: search results page with ``next_page`` (https://docs.stripe.com/search#pagination)."""
    ids = [emulator_client.v1.customers.create({"name": f"Acme {n}"}).id for n in range(3)]
    first = emulator_client.v1.customers.search({"query": "name~'Acme'", "limit": 2})
    assert (cast(Any, first).object, first.has_more, [c.id for c in first.data]) == ("search_result", True, ids[:0:-1])
    assert first.next_page is not None
    second = emulator_client.v1.customers.search({"query": "name~'Acme'", "limit": 2, "page": first.next_page})
    assert ([c.id for c in second.data], second.has_more) == ([ids[0]], False)
    assert second.next_page is None
