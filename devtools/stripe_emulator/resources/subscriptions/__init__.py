"""Subscriptions (https://docs.stripe.com/api/subscriptions) and the item changes they share with
``/v1/subscription_items``.

Creation (``POST /v1/subscriptions``, or a subscription schedule starting ``now``):

- Items take an active recurring ``price`` and a ``quantity`` (default 1); a metered price takes no
  quantity: "Quantity should not be specified where usage_type is `metered`. Remove quantity from
  `items[0]`." (its ``quantity`` reads ``null``). All prices share one currency (or the ``currency``
  parameter); the customer must not be billed in another one (see customers).
- Each item gets its own period, ``current_period_start/end``, one price interval long on the calendar
  (the subscription itself has no period fields since API 2025-03-31.basil).
  ``billing_mode`` defaults to ``flexible`` (API 2025-09-30.clover and later).
- The first invoice (``billing_reason: subscription_create``, period start = end = creation) has one
  line per item: quantity × unit amount for licensed prices, a zero-amount line of quantity 0 for
  metered ones (their usage is billed in arrears). ``latest_invoice`` names it.
  - ``send_invoice`` (``days_until_due`` required) and schedule-made subscriptions: ``active``, the
    invoice a draft with ``auto_advance: true``, finalized by the emulator clock an hour later.
  - ``charge_automatically``: the invoice is finalized within the request (SDK: "the first invoice is
    finalized as part of the request"). Nothing due → ``paid``, ``active``. Something due is charged at
    once to the subscription's ``default_payment_method`` or the customer's default (see payments):
    paid → ``active``; declined → ``allow_incomplete`` (the default) gives an ``incomplete`` subscription
    with the invoice ``open`` (``invoice.payment_failed``, no retries; ``incomplete_expired`` 23 hours
    later), ``error_if_incomplete`` answers the 402 card error and creates nothing
    (https://docs.stripe.com/api/subscriptions/create#create_subscription-payment_behavior). No payment
    method at all: ``allow_incomplete`` and ``error_if_incomplete`` refuse with "This customer has no
    attached payment source or default payment method..." and create nothing. ``default_incomplete``
    never charges: an ``incomplete`` subscription with the invoice ``open``.

Changes (``POST /v1/subscriptions/{id}`` ``items[]``, ``/v1/subscription_items``):

- Quantity or price changes of licensed items create prorations by the second
  (https://docs.stripe.com/billing/subscriptions/prorations), per ``proration_behavior``:
  ``create_prorations`` (default) leaves two pending invoice items — a credit "Unused time on 10 × Seat
  after ..." and a charge "Remaining time on 12 × Seat after ..." — for the next invoice;
  ``always_invoice`` also invoices the subscription's pending items at once (``subscription_update``,
  finalized in the request); ``none`` bills nothing. Metered items are never prorated.
- Adding an item gives it the subscription's current period end; removing the last item is refused.
- ``cancel_at_period_end`` sets ``cancel_at`` to the items' period end and ``canceled_at`` to now
  (status unchanged); the emulator clock cancels the subscription when ``cancel_at`` comes.
- A canceled subscription only accepts ``metadata`` and ``cancellation_details``.

Cancellation (``DELETE /v1/subscriptions/{id}``): ``canceled``, ``canceled_at``/``ended_at`` now,
``cancellation_details.reason: cancellation_requested``. ``prorate`` credits the unused time of licensed
items (pending items); ``invoice_now`` bills at once, on a final invoice (``billing_reason:
subscription_cycle``, finalized in the request), the subscription's pending items and its metered usage
since the period start (the meters' aggregated values, :func:`.ending.metered_usage`); with neither, the
subscription's pending prorations are deleted. Open invoices of the customer lose ``auto_advance``
("Stripe stops automatic collection of all finalized invoices for the customer"). Cancelling again is 404
``resource_missing``. A schedule managing the subscription is canceled with it. Deleting the customer cancels its
subscriptions the same way (no invoice, no proration).

Renewal (the clock rule :func:`.renewals.renew_due`, https://docs.stripe.com/billing/subscriptions/overview#subscription-lifecycle):
when the items' ``current_period_end`` passes, an ``active`` subscription (on a schedule or not) renews
at that moment: one ``subscription_cycle`` invoice (draft, ``auto_advance``, ``period_start``/``period_end``
the ended period) bills the licensed items for the next period in advance (quantity × unit amount, line
period = the new period), the metered items' usage of the ended period in arrears (quantity = the meter's
aggregated value for the customer over ``[period start, period end)``, 0 if negative; amount = quantity ×
unit amount, ``unit_amount_decimal`` rounded half up to the minor unit) and the subscription's pending
invoice items (prorations); the items' periods advance (counted from ``billing_cycle_anchor``);
``latest_invoice`` names the invoice. Events: ``invoice.created``, ``customer.subscription.updated`` (none
for the pending items attached: Stripe has no ``invoiceitem.updated``). The draft is finalized an hour later (invoices'
clock rule); its usage lines are recounted then, so usage for the ended period that arrives during this
grace period lands on it (https://docs.stripe.com/billing/subscriptions/usage-based/configure-grace-period).
A subscription with ``cancel_at`` at (or before) the period end is canceled instead (:func:`.ending.cancel_due`).

A schedule whose phase ends at the same moment is applied first (see subscription_schedules): released,
the subscription renews; canceled, it does not.

Payments of its invoices (past_due, retries, cancellation after the last one) are :mod:`..payments`' work;
a ``past_due`` subscription still renews ("The subscription continues to create invoices").

Not modeled (documented, refused or ignored loudly): trials, discounts, taxes, pause/resume,
renewals of ``unpaid`` subscriptions.

Lists exclude ``canceled`` and ``incomplete_expired`` subscriptions unless ``status`` asks
(``all``, ``ended``, ``canceled``...). Search takes ``created``, ``metadata``, ``status``.

Events: ``customer.subscription.created``, ``customer.subscription.updated`` (with
``previous_attributes``), ``customer.subscription.deleted``, plus the invoice and invoice item events of
what a change bills.

One module per part, each importing what it uses from the others (this package re-exports nothing):
:mod:`.validation` (parameters, statuses, checks), :mod:`.objects` (subscription and item objects, creation),
:mod:`.item_changes` (item changes and prorations), :mod:`.ending` (cancellation, metered usage lines),
:mod:`.renewals` (the renewal clock rule) and :mod:`.endpoints` (the ``/v1/subscriptions`` routes). Their hooks
into customers, payments and invoices are wired by ``resources.connect_hooks``.
"""
