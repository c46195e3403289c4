"""The demo's eight steps (the story is in the package docstring), each checking what it shows, and their runner.

Everything goes through the product's HTTP API as inCytes and Finance call it, and through Stripe's API (the SDK)
as Stripe's side of the story; the emulator's test controls (`/_emulator`: webhook deliveries, meter events, the
clock) only where Stripe's own API has nothing to show, and only on the emulator. Finance's messages are read
from the stack's SNS inbox queues (`local_stack.sns_inboxes`).
"""

from __future__ import annotations

import json
import re
import textwrap
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TextIO

import boto3
import stripe

from incytes_billing.models.catalog import CatalogConfig, load_catalog
from local_stack.inbox import moto_data, published_messages
from local_stack.sns_inboxes import INBOX_SUFFIX
from local_stack.stack import REGION
from stripe_emulator.client import EmulatorControl

CURRENCY_SYMBOLS = {"usd": "$", "eur": "€"}
FINANCE_CALLER = "arn:aws:sts::123456789012:assumed-role/incytes-finance/finance-reviewer"
FINANCE_TOPIC = "FinanceTopic"
WIDTH = 100  # of the narrative's lines
WAIT_SECONDS = 30.0  # for what happens behind the API: webhooks, Finance's message, the usage reporter
PAYMENT_CARD = "pm_card_visa"  # Stripe's test card token (https://docs.stripe.com/testing)
# A line of Finance's email naming a period.
PERIOD = re.compile(r"^\W*(.*?(\d{4}-\d{2}-\d{2}) to (\d{4}-\d{2}-\d{2}).*)$", re.MULTILINE)
KIND_LABELS = {"seat": "seats", "case": "cases", "sms": "SMS"}
# (usage id suffix, kind, quantity) reported by inCytes in step 5; the first is sent again, as a retry.
USAGE = (
    ("case-2", "case", 1),
    ("case-1", "case", 2),
    ("case-3", "case", 3),
    ("sms-1", "sms", 40),
    ("sms-2", "sms", 25),
)


class StepFailed(Exception):
    """A step did not show what it should: the message says what was expected and what came."""


def expect(condition: bool, failure: str) -> None:
    if not condition:
        raise StepFailed(failure)


def money(minor_units: int | str | Decimal, currency: str) -> str:
    """`3500, "usd"` -> `$35.00`; sub-cent prices keep their digits (`0.5` -> `$0.005`)."""
    amount = Decimal(minor_units) / 100
    exponent = amount.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    symbol = CURRENCY_SYMBOLS.get(currency.lower())
    sign, text = "-" if amount < 0 else "", f"{abs(amount):,.{places}f}"
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency.upper()}"


def day(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Targets:
    """Where the stack under demonstration answers."""

    api_url: str
    aws_url: str
    stripe_api_key: str
    emulator_url: str | None  # None: Stripe's test mode
    stack_name: str = "local"


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any

    @property
    def error_code(self) -> str | None:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return str(error.get("code")) if isinstance(error, dict) else None

    @property
    def error_message(self) -> str:
        return str(self.body["error"].get("message", "")) if self.error_code else ""


class Narrator:
    """Short lines for a newcomer; JSON only with --verbose."""

    def __init__(self, out: TextIO, *, verbose: bool = False) -> None:
        self.out = out
        self.verbose = verbose

    def say(self, text: str = "", indent: int = 2) -> None:
        for line in text.splitlines() or [""]:
            print(" " * indent + line if line else "", file=self.out, flush=True)

    def wrapped(self, text: str, indent: int = 4) -> None:
        """A long sentence (an API's message, a list) on short lines."""
        self.say(textwrap.fill(text, WIDTH - indent, break_on_hyphens=False), indent)

    def step(self, number: int, title: str) -> None:
        self.say(f"\n{number}. {title}", indent=0)

    def dump(self, label: str, value: Any) -> None:
        if self.verbose:
            self.say(f"{label}: {json.dumps(value, indent=2, default=str)}", indent=6)


def _decoded(body: bytes) -> Any:
    """A JSON answer, or its text when it is not JSON (a proxy's page): shown in the failure either way."""
    try:
        return json.loads(body or b"null")
    except ValueError:
        return body.decode(errors="replace")


class Api:
    """The product's HTTP API. SigV4 is not checked locally; Finance's calls name their caller."""

    def __init__(self, base_url: str, narrator: Narrator) -> None:
        self.base_url = base_url.rstrip("/")
        self.narrator = narrator

    def call(self, method: str, path: str, body: Any = None, headers: Mapping[str, str] | None = None) -> Answer:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=WAIT_SECONDS) as response:
                answer = Answer(response.status, _decoded(response.read()))
        except urllib.error.HTTPError as error:
            answer = Answer(error.code, _decoded(error.read()))
        self.narrator.dump(f"{method} {path} -> {answer.status}", answer.body)
        return answer

    def expect(self, method: str, path: str, status: int, body: Any = None, **headers: str) -> Any:
        """The answer's body, when the status is the one the contract gives."""
        answer = self.call(method, path, body, {k.replace("_", "-"): v for k, v in headers.items()})
        expect(answer.status == status, f"{method} {path} answered {answer.status}, not {status}: {answer.body}")
        return answer.body

    def refused(self, method: str, path: str, status: int, code: str, body: Any = None) -> str:
        """The contract's error answer (status and code); answers its message, the caller's guidance."""
        answer = self.call(method, path, body)
        expect(
            (answer.status, answer.error_code) == (status, code) and bool(answer.error_message),
            f"{method} {path} answered {answer.status} {answer.body}, not {status} {code} with a message",
        )
        return answer.error_message


@dataclass(frozen=True)
class FinanceMessage:
    message_id: str
    subject: str
    event_type: str
    email: str | None  # the text an email subscription gets; None when the inbox holds only the JSON for machines
    data: dict[str, Any]


def finance_message(envelope: Mapping[str, Any]) -> FinanceMessage:
    """One SNS notification as an SQS inbox holds it. The body is plain text for every protocol, or a JSON message
    structure (`MessageStructure=json`) whose `email` key is the email's text and `default` the JSON for machines;
    an SQS subscription itself is sent the `default` only."""
    message = str(envelope.get("Message", ""))
    try:
        parsed = json.loads(message)
    except ValueError:
        parsed = None
    email: str | None = message if not isinstance(parsed, dict) else None
    data: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
    if isinstance(parsed, dict) and ("default" in parsed or "email" in parsed):
        email = parsed.get("email") if isinstance(parsed.get("email"), str) else None
        try:
            default = json.loads(parsed.get("default", ""))
        except ValueError:
            default = None
        data = default if isinstance(default, dict) else {}
    event_type = envelope.get("MessageAttributes", {}).get("event_type", {}).get("Value", "")
    subject = str(envelope.get("Subject") or "")
    return FinanceMessage(str(envelope.get("MessageId", "")), subject, str(event_type), email, data)


class FinanceInbox:
    """The stack's SQS queue subscribed to Finance's SNS topic (SNS email delivers nothing locally)."""

    def __init__(self, targets: Targets) -> None:
        self.aws_url = targets.aws_url
        self.sqs = boto3.client(
            "sqs",
            endpoint_url=targets.aws_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's
        )
        urls = self.sqs.list_queues(QueueNamePrefix=targets.stack_name).get("QueueUrls", [])
        suffix = f"-{FINANCE_TOPIC}{INBOX_SUFFIX}"
        found = [url for url in urls if url.endswith(suffix)]
        expect(bool(found), f"no queue ending in {suffix} at {targets.aws_url}: is the local stack running there?")
        self.url = found[0]

    def wait_for(self, wanted: Callable[[FinanceMessage], bool], timeout: float = WAIT_SECONDS) -> FinanceMessage:
        """Take the first message `wanted` picks (removed from the inbox); others are left for `make inbox`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for raw in received.get("Messages", []):
                message = finance_message(json.loads(raw["Body"]))
                if wanted(message):
                    self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=raw["ReceiptHandle"])
                    return message
                self.sqs.change_message_visibility(
                    QueueUrl=self.url, ReceiptHandle=raw["ReceiptHandle"], VisibilityTimeout=0
                )
        raise StepFailed(f"no such message reached Finance's inbox within {timeout:.0f} s")

    def published_email(self, message_id: str) -> str | None:
        """The `email` text of a message published as a JSON structure, which SNS sends to the topic's email
        subscriptions (Finance) but not to a queue: read from moto's record of what was published (its
        dashboard's data, `/moto-api/data.json`)."""
        published = published_messages(moto_data(self.aws_url)).get(message_id)
        return None if published is None else finance_message({"Message": published}).email


@dataclass(frozen=True)
class Step:
    title: str
    run: Callable[[], str | None]  # answers why it was skipped, or None when it ran and showed what it should


def run_steps(steps: Sequence[Step], narrator: Narrator) -> int:
    """Run the steps in order, stopping at the first that fails; 0 only when none failed."""
    started = time.monotonic()
    skipped = []
    for number, step in enumerate(steps, 1):
        narrator.step(number, step.title)
        try:
            skip_reason = step.run()
        except Exception as failure:  # an answer of another shape, Stripe's or the network's errors: a failure too
            why = str(failure) if isinstance(failure, StepFailed) else f"{type(failure).__name__}: {failure}"
            narrator.say(f"\nFAILED at step {number} ({step.title}): {why}", indent=0)
            return 1
        if skip_reason is not None:
            narrator.say(f"skipped: {skip_reason}")
            skipped.append(number)
    took = time.monotonic() - started
    if skipped:
        listed = ", ".join(map(str, skipped))
        narrator.say(
            f"\n{len(steps) - len(skipped)} steps showed what they should; skipped: {listed} ({took:.0f} s).", 0
        )
    else:
        narrator.say(f"\nAll {len(steps)} steps showed what they should ({took:.0f} s).", indent=0)
    return 0


class Story:
    """The story's state as it unfolds (ids made by one step are used by the next)."""

    def __init__(self, targets: Targets, narrator: Narrator, *, seats: int = 3) -> None:
        self.targets = targets
        self.say, self.wrapped = narrator.say, narrator.wrapped
        self.api = Api(targets.api_url, narrator)
        base = targets.emulator_url
        self.stripe = stripe.StripeClient(
            targets.stripe_api_key,
            base_addresses={"api": base, "meter_events": base} if base else {},
            max_network_retries=2,
        )
        self.emulator = EmulatorControl(base, timeout=WAIT_SECONDS) if base else None
        self.catalog: CatalogConfig = load_catalog()
        self.seats = seats
        run = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        self.funder_id, self.manual_funder_id = f"demo-{run}-acme", f"demo-{run}-beta"
        self.prices: dict[tuple[str, str], stripe.Price] = {}  # (kind, currency) -> the Stripe price
        self.meter_ids: dict[str, str] = {}  # kind -> meter id
        self.customer_id = self.subscription_id = self.invoice_id = ""
        self.amount_due = 0

    def steps(self) -> list[Step]:
        return [
            Step("The catalog in Stripe: seats, cases and SMS, in USD and EUR", self.show_catalog),
            Step("A funder without a Stripe customer asks for a subscription", self.refuse_without_customer),
            Step("It gets its customer; one click subscribes it; the first invoice is held", self.subscribe),
            Step("Stripe's webhooks arrive signed; Finance is asked to review", self.webhook_reaches_finance),
            Step("inCytes reports cases and SMS; they reach Stripe's meters", self.report_usage),
            Step(
                "A subscription made by hand without SMS is refused; seats wait for the review",
                self.refuse_manual_and_seats,
            ),
            Step("Finance approves; Stripe finalizes and collects it; now the seats change", self.approve_and_collect),
            Step("The month closes: the renewal invoice, and usage matching Stripe's", self.renew),
        ]

    @property
    def funder_path(self) -> str:
        return f"/funders/{self.funder_id}"

    def price_kind(self, price_id: str) -> str | None:
        return next((kind for (kind, _), price in self.prices.items() if price.id == price_id), None)

    def unit_amount(self, kind: str, currency: str = "usd") -> Decimal:
        return Decimal(str(self.prices[(kind, currency)].unit_amount_decimal))

    # 1 ---------------------------------------------------------------------------------------------------------
    def show_catalog(self) -> None:
        meters = {meter.event_name: meter.id for meter in self.stripe.v1.billing.meters.list({"limit": 100}).data}
        keys = [
            self.catalog.lookup_key(kind, currency)
            for kind, p in self.catalog.products.items()
            for currency in p.amounts
        ]
        prices = {price.lookup_key: price for price in self.stripe.v1.prices.list({"lookup_keys": keys}).data}
        for kind, product in self.catalog.products.items():
            event_name = self.catalog.meters[product.meter].event_name if product.meter else None
            meter_id = meters.get(event_name) if event_name else None
            expect(event_name is None or meter_id is not None, f"Stripe has no meter for {event_name}")
            shown = []
            for currency, amount in product.amounts.items():
                key = self.catalog.lookup_key(kind, currency)
                price = prices.get(key)
                if price is None or not price.active or price.recurring is None:
                    raise StepFailed(f"Stripe has no active recurring price with lookup key {key}")
                recurring = price.recurring
                expect(
                    (Decimal(str(price.unit_amount_decimal)), recurring.interval, recurring.usage_type, recurring.meter)
                    == (amount, "month", product.usage_type, meter_id),
                    f"{key} is {price.unit_amount_decimal} {price.currency} a {recurring.interval}, "
                    f"{recurring.usage_type}, meter {recurring.meter}: not as catalog.toml says",
                )
                self.prices[(kind, currency)] = price
                shown.append(money(amount, currency))
            name = self.stripe.v1.products.retrieve(product.product_id).name
            if meter_id is None:
                billed = "a month, billed in advance"
            else:
                self.meter_ids[kind] = meter_id
                billed = f"billed in arrears from the meter {event_name}"
            self.say(f"{kind:<5} {name}: {' or '.join(shown)} per {product.unit_label}, {billed}")
        self.say(f"({len(prices)} prices found by lookup key, e.g. {keys[0]} = {self.prices[('seat', 'usd')].id})")

    # 2 ---------------------------------------------------------------------------------------------------------
    def refuse_without_customer(self) -> None:
        self.api.expect("PUT", self.funder_path, 200, {"name": "Acme Health"})
        self.say(f"PUT {self.funder_path} {{name: Acme Health}}: funder created, no Stripe customer")
        path = f"{self.funder_path}/subscription"
        message = self.api.refused("POST", path, 409, "stripe_customer_missing", {"seats": self.seats})
        self.say(f"POST {path}: 409 stripe_customer_missing")
        self.wrapped(f'"{message}"')

    # 3 ---------------------------------------------------------------------------------------------------------
    def subscribe(self) -> None:
        customer = self.stripe.v1.customers.create({"name": "Acme Health", "email": "billing@acme-health.example"})
        self.customer_id = customer.id
        funder = self.api.expect(
            "PUT",
            self.funder_path,
            200,
            {"name": "Acme Health", "stripe_customer_id": customer.id, "seats": self.seats},
        )
        expect(funder["stripe_customer_id"] == customer.id, f"the funder is not linked to {customer.id}: {funder}")
        self.say(f"Stripe customer {customer.id} linked to funder {self.funder_id}, {self.seats} seats")
        path = f"{self.funder_path}/subscription"
        created = self.api.expect("POST", path, 201, {}, Idempotency_Key=f"{self.funder_id}-click")
        self.subscription_id = created["subscription_id"]
        kinds = sorted(str(item.get("kind")) for item in created["items"])
        expect(kinds == ["case", "seat", "sms"], f"the subscription's items are {kinds}, not seat, case and sms")
        self.say(f"One click, POST {path}:")
        self.say(f"subscription {self.subscription_id}, {created['status']}: seats, cases and SMS", indent=4)
        first = created["first_invoice"]
        self.invoice_id, self.amount_due = first["id"], int(first["amount_due"])
        expected = self.unit_amount("seat", created["currency"]) * self.seats
        expect(
            (first["status"], first["review_status"], Decimal(self.amount_due)) == ("draft", "pending", expected),
            f"the first invoice is {first}, not a draft pending review of {money(expected, created['currency'])}",
        )
        self.say(
            f"First invoice {self.invoice_id}: a draft of {money(self.amount_due, first['currency'])} "
            f"({self.seats} seats x {money(self.unit_amount('seat', first['currency']), first['currency'])}), "
            "held for Finance"
        )
        self.expect_held_draft()

    def expect_held_draft(self) -> None:
        invoice = self.stripe.v1.invoices.retrieve(self.invoice_id)
        expect(
            invoice.status == "draft" and invoice.auto_advance is False,
            f"Stripe shows {self.invoice_id} {invoice.status} with auto_advance {invoice.auto_advance}, "
            "not a held draft",
        )

    # 4 ---------------------------------------------------------------------------------------------------------
    def webhook_reaches_finance(self) -> None:
        if self.emulator is not None:
            self.show_deliveries(self.emulator)
        else:
            self.say("(Stripe's test mode: its webhooks reach the stack through `stripe listen`)")
        inbox = FinanceInbox(self.targets)
        try:
            message = inbox.wait_for(self.is_review_request)
        except StepFailed as failure:
            if self.emulator is not None:
                raise
            raise StepFailed(f"{failure}: are Stripe's webhooks forwarded to the stack (stripe listen)?") from None
        email = message.email if message.email is not None else inbox.published_email(message.message_id)
        if email is None:
            raise StepFailed(f"Finance's message {message.message_id} has no email text")
        self.say(f"Finance's email ({message.event_type}), as SNS delivers it to the topic's email subscription:")
        self.say(f"| Subject: {message.subject}\n|\n" + "\n".join(f"| {line}" for line in email.splitlines()), 4)
        expect(self.invoice_id in email, f"Finance's email does not name {self.invoice_id}")
        for period in PERIOD.finditer(email):
            expect(
                period[2] != period[3],
                f"product bug: Finance's email says {period[1]!r}, one day, not the month the seats cover "
                "(issue 13 section 2)",
            )
        if self.emulator is not None:
            self.emulator.advance_clock(2 * 3600)
            self.expect_held_draft()
            self.say("Two hours on (the emulator's clock): still a draft. Stripe finalizes drafts an hour after")
            self.say("their webhooks only when auto_advance is on; the product turned it off.")
        else:
            self.expect_held_draft()
            self.say("Still a draft with auto_advance off: Stripe will not finalize it by itself.")

    def is_review_request(self, message: FinanceMessage) -> bool:
        named = message.data.get("invoice", {}).get("invoice_id") == self.invoice_id
        return message.event_type == "invoice.review_requested" and (named or self.invoice_id in (message.email or ""))

    def show_deliveries(self, emulator: EmulatorControl) -> None:
        expect(emulator.wait_for_deliveries(WAIT_SECONDS), "the emulator's webhook deliveries did not end in time")
        ours = {
            event["id"]: event["type"]
            for event in emulator.events()
            if self.customer_id in (event["data"]["object"].get("customer"), event["data"]["object"].get("id"))
        }
        deliveries = [d for d in emulator.webhook_deliveries() if d["event_id"] in ours]
        created = [d for d in deliveries if d["type"] == "invoice.created"]
        expect(bool(created), f"no invoice.created of {self.invoice_id} was delivered")
        failed = [d for d in deliveries if d["status"] != 200]
        expect(not failed, f"the webhook route refused deliveries: {failed}")
        self.say(f"Stripe sent {len(deliveries)} events to {created[0]['url']}, each signed (Stripe-Signature);")
        self.say("the stack checked every signature and answered 200:")
        self.wrapped(", ".join(sorted(set(ours.values()))))

    # 5 ---------------------------------------------------------------------------------------------------------
    def report_usage(self) -> None:
        occurred_at = datetime.now(UTC).isoformat()
        records = [
            {
                "funder_id": self.funder_id,
                "usage_id": f"{self.funder_id}-{suffix}",
                "kind": kind,
                "quantity": quantity,
                "occurred_at": occurred_at,
            }
            for suffix, kind, quantity in USAGE
        ]
        results = self.api.expect("POST", "/usage", 200, {"records": records})["results"]
        statuses = [result["status"] for result in results]
        expect(statuses == ["accepted"] * len(records), f"POST /usage answered {statuses}")
        totals = self.usage_sent()
        self.say(f"POST /usage: {len(records)} records accepted, {totals['case']} cases and {totals['sms']} SMS")
        retry = {key: value for key, value in records[0].items() if key != "funder_id"}
        answer = self.api.expect("POST", f"{self.funder_path}/usage", 200, retry)
        expect(answer.get("status") == "duplicate", f"the retried record was answered {answer}, not duplicate")
        self.say(f"inCytes sends {retry['usage_id']} again (a retry): 200 duplicate, counted once")
        started = time.monotonic()
        reported = self.wait_for_usage(lambda kind, t: t["reported"] == totals[kind] and t["pending"] == 0)
        self.say(
            f"The usage reporter sent them to Stripe in {time.monotonic() - started:.1f} s: "
            + ", ".join(f"{kind} {t['reported']} reported" for kind, t in reported.items())
        )
        if self.emulator is None:
            self.say("(Stripe's meter summaries lag behind; step 8 compares them once the month is over)")
            return
        counted = self.metered(self.emulator)
        expect(counted == totals, f"Stripe's meters counted {counted}, not {totals}")
        self.say("Stripe's meters received: " + ", ".join(f"{kind} {value}" for kind, value in counted.items()))

    def usage_sent(self) -> dict[str, int]:
        """What inCytes reports in step 5, per kind (the retried record counted once)."""
        totals: dict[str, int] = defaultdict(int)
        for _, kind, quantity in USAGE:
            totals[kind] += quantity
        return dict(totals)

    def usage_totals(self) -> dict[str, dict[str, int]]:
        """GET /funders/{id}/usage: per kind, the quantities recorded, reported, pending, failed, unbillable."""
        totals: dict[str, dict[str, int]] = self.api.expect("GET", f"{self.funder_path}/usage", 200)["totals"]
        return totals

    def wait_for_usage(self, done: Callable[[str, dict[str, int]], bool]) -> dict[str, dict[str, int]]:
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            totals = self.usage_totals()
            if all(done(kind, totals[kind]) for kind in self.usage_sent()):
                return totals
            expect(time.monotonic() < deadline, f"usage not reported within {WAIT_SECONDS:.0f} s: {totals}")
            time.sleep(0.5)

    def metered(self, emulator: EmulatorControl) -> dict[str, int]:
        """What the emulator's meters hold for our customer (Stripe processes meter events asynchronously)."""
        event_kinds = {name: kind for kind, name in self.catalog.meter_event_names().items()}
        counted: dict[str, int] = defaultdict(int)
        for event in emulator.meter_events():
            if event["customer"] == self.customer_id:
                counted[event_kinds[event["event_name"]]] += int(event["value"])
        return dict(sorted(counted.items()))

    # 6 ---------------------------------------------------------------------------------------------------------
    def refuse_manual_and_seats(self) -> None:
        customer = self.stripe.v1.customers.create({"name": "Beta Clinic"})
        path = f"/funders/{self.manual_funder_id}"
        self.api.expect("PUT", path, 200, {"name": "Beta Clinic", "stripe_customer_id": customer.id})
        manual = self.stripe.v1.subscriptions.create(
            {
                "customer": customer.id,
                "items": [
                    {"price": self.prices[("seat", "usd")].id, "quantity": 2},
                    {"price": self.prices[("case", "usd")].id},
                ],
                "collection_method": "send_invoice",
                "days_until_due": 30,
            }
        )
        try:
            message = self.api.refused(
                "PUT", f"{path}/subscription", 422, "sms_item_required", {"subscription_id": manual.id}
            )
        finally:
            self.stripe.v1.subscriptions.cancel(manual.id)
        self.say(f"Beta Clinic's subscription {manual.id}, made by hand in Stripe with seats and cases only:")
        self.say(f"PUT {path}/subscription: 422 sms_item_required", indent=4)
        self.wrapped(f'"{message}"')
        message = self.api.refused(
            "PATCH", f"{self.funder_path}/subscription", 409, "first_invoice_pending_review", {"seats": self.seats + 2}
        )
        self.say(f"Acme's seats {self.seats} -> {self.seats + 2} (PATCH): 409 first_invoice_pending_review")
        self.wrapped(f'"{message}"')

    # 7 ---------------------------------------------------------------------------------------------------------
    def approve_and_collect(self) -> None:
        self.wait_for_review_status(self.invoice_id, "pending")
        self.say(f"Finance's list (GET /invoices?review_status=pending) holds {self.invoice_id}")
        path = f"/invoices/{self.invoice_id}/approve"
        approved = self.api.expect("POST", path, 200, None, X_Local_Caller_Arn=FINANCE_CALLER)
        expect(approved["review_status"] == "approved", f"POST {path} answered {approved}")
        invoice = self.stripe.v1.invoices.retrieve(self.invoice_id)
        expect(
            invoice.status == "open" and invoice.auto_advance is True,
            f"after approval Stripe shows {invoice.status} with auto_advance {invoice.auto_advance}",
        )
        due = f", due {day(invoice.due_date)}" if invoice.due_date else ""
        self.say(f"POST {path}: approved")
        self.say(f"Stripe finalized it: number {invoice.number}, open, {invoice.collection_method}{due}", indent=4)
        entries = self.api.expect("GET", f"{self.funder_path}/audit?limit=10", 200)["entries"]
        approval = next((entry for entry in entries if entry["action"] == "invoice.approved"), None)
        expect(
            approval is not None and approval["caller"]["user_arn"] == FINANCE_CALLER,
            f"the audit trail has no approval by {FINANCE_CALLER}: {entries}",
        )
        self.say("The funder's audit trail records the approval (invoice.approved) and its caller:", indent=4)
        self.say(FINANCE_CALLER, indent=6)
        card = self.stripe.v1.payment_methods.attach(PAYMENT_CARD, {"customer": self.customer_id})
        paid = self.stripe.v1.invoices.pay(self.invoice_id, {"payment_method": card.id})
        expect(
            paid.status == "paid" and paid.amount_paid == self.amount_due,
            f"paying {self.invoice_id} left it {paid.status} with {paid.amount_paid} paid of {self.amount_due}",
        )
        self.say(
            f"The funder pays it with a test card ({PAYMENT_CARD}): paid, {money(paid.amount_paid, paid.currency)}"
        )
        seats = self.seats + 2
        funder = self.api.expect("PATCH", f"{self.funder_path}/subscription", 200, {"seats": seats})
        seat_item = next(item for item in funder["subscription"]["items"] if item["kind"] == "seat")
        expect(
            (funder["seats"], seat_item["quantity"]) == (seats, seats),
            f"after PATCH seats={seats}: the funder has {funder['seats']}, its seat item {seat_item['quantity']}",
        )
        self.say(f"Seats {self.seats} -> {seats} (PATCH): done; the rest of the month is prorated on the next invoice")
        self.seats = seats

    def wait_for_review_status(self, invoice_id: str, review_status: str) -> None:
        """Until the product lists the invoice in that review state (it learns of invoices from webhooks)."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            listed = self.api.expect("GET", f"/invoices?review_status={review_status}", 200)["invoices"]
            if any(invoice["invoice_id"] == invoice_id for invoice in listed):
                return
            expect(time.monotonic() < deadline, f"{invoice_id} not in GET /invoices?review_status={review_status}")
            time.sleep(0.5)

    # 8 ---------------------------------------------------------------------------------------------------------
    def renew(self) -> str | None:
        if self.emulator is None:
            return (
                "Stripe's test mode has no clock this demo may move (Stripe's test clocks are not supported by "
                "the product yet): the renewal comes at the real end of the month"
            )
        subscription = self.stripe.v1.subscriptions.retrieve(self.subscription_id)
        period_start = min(item.current_period_start for item in subscription["items"].data)
        period_end = max(item.current_period_end for item in subscription["items"].data)
        self.emulator.set_clock(period_end + 60)
        self.say(f"The emulator's clock moves to the period's end, {day(period_end)} UTC")
        renewals = [
            invoice
            for invoice in self.stripe.v1.invoices.list({"subscription": self.subscription_id}).data
            if invoice.billing_reason == "subscription_cycle"
        ]
        expect(len(renewals) == 1, f"{len(renewals)} renewal invoices, not one")
        renewal = renewals[0]
        self.say(f"Renewal invoice {renewal.id}: {renewal.status}, {money(renewal.amount_due, renewal.currency)} due")
        billed = self.renewal_lines(renewal.id, renewal.amount_due, period_end)
        self.wait_for_review_status(renewal.id, "not_required")
        self.say("No review needed (GET /invoices?review_status=not_required): Stripe finalizes it in an hour")
        usage = self.usage_totals()
        # Summaries take minute-aligned bounds: the minutes around the period.
        window = {
            "customer": self.customer_id,
            "start_time": period_start // 60 * 60,
            "end_time": -(-period_end // 60) * 60,
        }
        for kind, quantity in self.usage_sent().items():
            summaries = self.stripe.v1.billing.meters.event_summaries.list(self.meter_ids[kind], window)  # type: ignore[arg-type]
            stripe_total = int(sum(summary.aggregated_value for summary in summaries.data))
            ours = usage[kind]
            expect(
                ours["recorded"] == ours["reported"] == stripe_total == billed[kind] == quantity,
                f"{kind}: recorded {ours['recorded']}, reported {ours['reported']}, Stripe's meter {stripe_total}, "
                f"invoiced {billed[kind]}; expected {quantity} everywhere",
            )
            self.say(
                f"{KIND_LABELS[kind]}: {ours['recorded']} recorded and {ours['reported']} reported by us"
                f" = {stripe_total} in Stripe's meter summary = {billed[kind]} invoiced"
            )
        return None

    def renewal_lines(self, invoice_id: str, amount_due: int, period_end: int) -> dict[str, int]:
        """Show the renewal's lines and check each one's price, quantity and period, and their sum; answers the
        quantity billed per metered kind."""
        billed: dict[str, int] = {}
        total = 0
        for line in self.stripe.v1.invoices.line_items.list(invoice_id, {"limit": 100}).data:
            item = line.to_dict()
            details = item["parent"].get("subscription_item_details") or {}
            price = ((item.get("pricing") or {}).get("price_details") or {}).get("price")
            kind = self.price_kind(price) if price else None
            quantity, amount, currency = int(item["quantity"] or 0), int(item["amount"]), item["currency"]
            total += amount
            start, end = item["period"]["start"], item["period"]["end"]
            when = f"{day(start)} to {day(end)}"
            if details.get("proration"):
                self.say(f"proration {money(amount, currency):>22}  {item['description']}", indent=4)
                continue
            if kind is None:
                raise StepFailed(f"a line of no catalog price: {item['description']}")
            expected = self.unit_amount(kind, currency) * quantity
            expect(
                Decimal(amount) == expected,
                f"the {kind} line bills {money(amount, currency)}, not {money(expected, currency)}",
            )
            if kind == "seat":
                expect(quantity == self.seats and start == period_end, f"the seat line bills {quantity} from {when}")
            else:
                expect(end == period_end, f"the {kind} line bills {when}, not the month that closed")
                billed[kind] = quantity
            price_text = money(self.unit_amount(kind, currency), currency)
            self.say(
                f"{KIND_LABELS[kind]:<9} {quantity:>3} x {price_text:<6} = {money(amount, currency):>8}  {when}"
                f" ({'in advance' if kind == 'seat' else 'in arrears'})",
                indent=4,
            )
        expect(set(billed) == set(self.usage_sent()), f"the renewal bills usage of {sorted(billed)} only")
        expect(total == amount_due, f"the lines add up to {total}, but {amount_due} is due")
        return billed
