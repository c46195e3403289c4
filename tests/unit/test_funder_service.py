"""FunderService rules (docs/business-rules.md; README "HTTP API", PUT /funders), with in-memory ports."""

from __future__ import annotations

import pytest

from incytes_billing.domain.funders import FunderService
from incytes_billing.errors import (
    ConcurrentUpdate,
    CurrencyMismatch,
    FunderLocked,
    FunderNotFound,
    SeatsChangeNeedsSubscriptionRoute,
    StripeCustomerInUse,
    StripeCustomerNotFound,
)
from incytes_billing.models.funder import FunderUpsert
from incytes_billing.models.stripe import StripeCustomer
from incytes_billing.models.subscription import FunderSubscription
from tests.fakes import NOW, MemoryCustomers, MemoryFunders


@pytest.fixture
def funders() -> MemoryFunders:
    return MemoryFunders()


@pytest.fixture
def customers() -> MemoryCustomers:
    return MemoryCustomers(
        StripeCustomer("cus_new", deleted=False, currency=None),
        StripeCustomer("cus_eur", deleted=False, currency="eur"),
        StripeCustomer("cus_gone", deleted=True, currency=None),
        StripeCustomer("cus_gbp", deleted=False, currency="gbp"),
    )


@pytest.fixture
def service(funders: MemoryFunders, customers: MemoryCustomers) -> FunderService:
    return FunderService(funders, customers, clock=lambda: NOW)


def upsert(**fields: object) -> FunderUpsert:
    return FunderUpsert.model_validate({"name": "Acme", **fields})


def test_creates_funder_with_defaults(service: FunderService) -> None:
    funder = service.upsert("f1", upsert())
    assert (funder.stripe_customer_id, funder.currency, funder.seats, funder.version) == (None, "usd", 1, 1)
    assert funder.created_at == funder.updated_at == NOW


def test_links_customer_after_checking_it(service: FunderService, customers: MemoryCustomers) -> None:
    funder = service.upsert("f1", upsert(stripe_customer_id="cus_new", currency="eur", seats=4))
    assert (funder.stripe_customer_id, funder.currency, funder.seats) == ("cus_new", "eur", 4)
    assert customers.lookups == 1


def test_new_funder_adopts_the_customers_currency(service: FunderService) -> None:
    assert service.upsert("f1", upsert(stripe_customer_id="cus_eur", currency="eur")).currency == "eur"


def test_unknown_customer_is_refused(service: FunderService, funders: MemoryFunders) -> None:
    with pytest.raises(StripeCustomerNotFound, match="does not exist"):
        service.upsert("f1", upsert(stripe_customer_id="cus_missing"))
    assert funders.items == {}


def test_deleted_customer_is_refused(service: FunderService) -> None:
    with pytest.raises(StripeCustomerNotFound, match="deleted"):
        service.upsert("f1", upsert(stripe_customer_id="cus_gone"))


def test_customer_billing_in_another_currency_is_refused(service: FunderService) -> None:
    with pytest.raises(CurrencyMismatch, match="EUR"):
        service.upsert("f1", upsert(stripe_customer_id="cus_eur", currency="usd"))


def test_existing_funder_currency_must_match_new_customer(service: FunderService) -> None:
    service.upsert("f1", upsert(currency="usd"))
    with pytest.raises(CurrencyMismatch):
        service.upsert("f1", upsert(stripe_customer_id="cus_eur"))


def test_customer_in_unsupported_currency_is_refused(service: FunderService) -> None:
    with pytest.raises(CurrencyMismatch, match="GBP"):
        service.upsert("f1", upsert(stripe_customer_id="cus_gbp"))


def test_omitted_fields_keep_their_values_and_null_unlinks(service: FunderService) -> None:
    service.upsert("f1", upsert(stripe_customer_id="cus_new", currency="eur", seats=3))
    kept = service.upsert("f1", upsert(name="Acme Health"))
    assert (kept.name, kept.stripe_customer_id, kept.currency, kept.seats) == ("Acme Health", "cus_new", "eur", 3)
    unlinked = service.upsert("f1", upsert(stripe_customer_id=None))
    assert unlinked.stripe_customer_id is None


def test_identical_replay_writes_nothing(
    service: FunderService, funders: MemoryFunders, customers: MemoryCustomers
) -> None:
    first = service.upsert("f1", upsert(stripe_customer_id="cus_new"))
    again = service.upsert("f1", upsert(stripe_customer_id="cus_new"))
    assert again == first
    assert (funders.saves, customers.lookups) == (1, 1)


def test_renaming_does_not_call_stripe(service: FunderService, customers: MemoryCustomers) -> None:
    service.upsert("f1", upsert(stripe_customer_id="cus_new"))
    service.upsert("f1", upsert(name="Renamed"))
    assert customers.lookups == 1


@pytest.mark.parametrize(
    "change",
    [{"stripe_customer_id": "cus_eur"}, {"stripe_customer_id": None}, {"currency": "eur"}],
)
def test_subscribed_funder_cannot_change_customer_or_currency(
    service: FunderService, funders: MemoryFunders, change: dict[str, object]
) -> None:
    funder = service.upsert("f1", upsert(stripe_customer_id="cus_new"))
    funders.items["f1"] = funder.model_copy(
        update={"subscription": FunderSubscription(subscription_id="sub_1", status="active")}
    )
    with pytest.raises(FunderLocked, match="sub_1"):
        service.upsert("f1", upsert(**change))
    # The name stays editable; the seats too, when they are the ones Stripe bills (a replay).
    assert service.upsert("f1", upsert(name="Still Acme", seats=funder.seats)).name == "Still Acme"


def test_subscribed_funders_seats_change_only_through_the_subscription(
    service: FunderService, funders: MemoryFunders
) -> None:
    """Issue 9 §4: PUT /funders with other seats answered 200 while Stripe kept billing the old count."""
    funder = service.upsert("f1", upsert(stripe_customer_id="cus_new", seats=12))
    funders.items["f1"] = funder.model_copy(
        update={"subscription": FunderSubscription(subscription_id="sub_1", status="active")}
    )
    with pytest.raises(SeatsChangeNeedsSubscriptionRoute, match="PATCH /funders/f1/subscription"):
        service.upsert("f1", upsert(seats=20))
    assert funders.items["f1"].seats == 12


def test_canceled_subscription_no_longer_locks(service: FunderService, funders: MemoryFunders) -> None:
    funder = service.upsert("f1", upsert(stripe_customer_id="cus_new"))
    funders.items["f1"] = funder.model_copy(
        update={"subscription": FunderSubscription(subscription_id="sub_1", status="canceled")}
    )
    assert service.upsert("f1", upsert(stripe_customer_id="cus_eur", currency="eur")).currency == "eur"


def test_concurrent_writer_is_retried_then_reported(service: FunderService, funders: MemoryFunders) -> None:
    funders.conflicts_to_raise = 1
    assert service.upsert("f1", upsert()).version == 1
    funders.conflicts_to_raise = 10
    with pytest.raises(ConcurrentUpdate):
        service.upsert("f1", upsert(name="Other"))


def test_a_customer_bills_one_funder(service: FunderService) -> None:
    service.upsert("f1", upsert(stripe_customer_id="cus_new"))
    with pytest.raises(StripeCustomerInUse, match="f1"):
        service.upsert("f2", upsert(stripe_customer_id="cus_new"))
    service.upsert("f1", upsert(stripe_customer_id=None))  # once unlinked, it is free
    assert service.upsert("f2", upsert(stripe_customer_id="cus_new")).stripe_customer_id == "cus_new"


def test_get_unknown_funder(service: FunderService) -> None:
    with pytest.raises(FunderNotFound, match="f404"):
        service.get("f404")
