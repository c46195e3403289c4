"""The end of a subscription schedule's last phase (emulator only: driven by the emulator clock).

"A subscription schedule is completed after the last phase is finished. When this happens, the subscription
is released from the schedule and it behaves the same as it did before the schedule was applied. If you want
to cancel a subscription after the last phase of a schedule is complete, you can set end_behavior to cancel"
(https://docs.stripe.com/billing/subscriptions/subscription-schedules); Stripe's CLI fixture for
``subscription_schedule.completed`` is such a schedule (``end_behavior=release``) with its test clock moved
past the phase (https://github.com/stripe/stripe-cli/pull/1462).
"""

from __future__ import annotations

import pytest
import stripe

from stripe_emulator import StripeEmulator
from tests.emulator.support import Factory, add_months, error_of


@pytest.fixture
def make(emulator_client: stripe.StripeClient) -> Factory:
    return Factory(emulator_client, "schedule_end")


def _cycle_invoices(client: stripe.StripeClient, subscription: str) -> list[stripe.Invoice]:
    invoices = client.v1.invoices.list({"subscription": subscription, "limit": 100}).data
    return sorted((inv for inv in invoices if inv.billing_reason == "subscription_cycle"), key=lambda inv: inv.created)


def test_release_at_the_end_completes_the_schedule_and_the_subscription_keeps_renewing(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient, make: Factory
) -> None:
    """A two-month phase of a monthly price: the subscription renews after one month while still on its
    schedule (https://docs.stripe.com/billing/subscriptions/overview#subscription-lifecycle); at the phase
    end the schedule is ``completed`` (``subscription_schedule.completed``), the subscription leaves it and
    renews at that same moment, then every month as any subscription."""
    client = emulator_client
    customer = make.customer()
    schedule = make.schedule(customer.id, make.catalog(), duration={"interval": "month", "interval_count": 2})
    subscription_id = str(schedule.subscription)
    start = schedule.phases[0].start_date
    first_end, phase_end = add_months(start, 1), add_months(start, 2)
    assert schedule.phases[0].end_date == phase_end

    emulator.set_clock(first_end + 1)
    assert [invoice.created for invoice in _cycle_invoices(client, subscription_id)] == [first_end]
    assert client.v1.subscription_schedules.retrieve(schedule.id).status == "active"
    assert client.v1.subscriptions.retrieve(subscription_id).schedule == schedule.id

    emulator.set_clock(phase_end + 1)
    completed = client.v1.subscription_schedules.retrieve(schedule.id)
    assert (completed.status, completed.completed_at, completed.current_phase) == ("completed", phase_end, None)
    assert (completed.subscription, completed.released_subscription) == (None, subscription_id)
    subscription = client.v1.subscriptions.retrieve(subscription_id)
    # past_due: its send_invoice invoices were left unpaid past their due date (a past_due one still renews).
    assert (subscription.status, subscription.schedule) == ("past_due", None)
    assert [invoice.created for invoice in _cycle_invoices(client, subscription_id)] == [first_end, phase_end]
    at_end = [event["type"] for event in emulator.events() if event["created"] == phase_end]
    assert at_end[:3] == ["subscription_schedule.completed", "customer.subscription.updated", "invoice.created"]
    assert not emulator.events("subscription_schedule.released")

    emulator.set_clock(add_months(start, 3) + 1)
    assert len(_cycle_invoices(client, subscription_id)) == 3


def test_cancel_at_the_end_cancels_the_subscription_instead_of_renewing(
    emulator: StripeEmulator, emulator_client: stripe.StripeClient, make: Factory
) -> None:
    """``end_behavior=cancel``: the schedule completes and its subscription is canceled at the phase end,
    with no renewal (https://docs.stripe.com/api/subscription_schedules/object#subscription_schedule_object-end_behavior:
    "cancel will end the subscription schedule and cancel the underlying subscription")."""
    client = emulator_client
    customer = make.customer()
    schedule = make.schedule(customer.id, make.catalog())
    client.v1.subscription_schedules.update(schedule.id, {"end_behavior": "cancel"})
    subscription_id = str(schedule.subscription)
    phase_end = schedule.phases[0].end_date

    emulator.set_clock(phase_end + 1)
    completed = client.v1.subscription_schedules.retrieve(schedule.id)
    assert (completed.status, completed.completed_at, completed.subscription) == (
        "completed",
        phase_end,
        subscription_id,
    )
    subscription = client.v1.subscriptions.retrieve(subscription_id)
    assert (subscription.status, subscription.ended_at) == ("canceled", phase_end)
    seat_renewals = [
        invoice
        for invoice in _cycle_invoices(client, subscription_id)
        if invoice.created >= phase_end and invoice.total
    ]
    assert seat_renewals == []
    types = [event["type"] for event in emulator.events() if event["created"] == phase_end]
    assert types[0] == "subscription_schedule.completed"
    assert types[-1] == "customer.subscription.deleted"


def test_legacy_end_behaviors_are_refused_as_not_modeled(make: Factory) -> None:
    """``none`` and ``renew`` are legacy values (Stripe: "Possible values are release or cancel",
    https://docs.stripe.com/api/subscription_schedules/create#create_subscription_schedule-end_behavior): the
    emulator refuses them rather than guess."""
    customer = make.customer()
    schedule = make.schedule(customer.id, make.catalog())
    with pytest.raises(stripe.InvalidRequestError) as refused:
        make.client.v1.subscription_schedules.update(schedule.id, {"end_behavior": "none"})
    assert error_of(refused.value)["code"] == "emulator_unsupported_parameter"
