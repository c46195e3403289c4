"""The local stack: moto server + the Stripe emulator (or Stripe's test mode) + the API, all from template.yaml."""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from local_stack.apigw import ApiGateway
from local_stack.console import VERBOSE_VARIABLE, verbose_from_environment
from local_stack.instances import InstancePoolRunner
from local_stack.lambda_runtime import LambdaRunner
from local_stack.schedules import schedule_workers
from local_stack.server import LocalApiServer
from local_stack.sns_inboxes import subscribe_inboxes
from local_stack.sqs_source import sqs_workers
from local_stack.stream_source import stream_workers
from local_stack.template.aws_resources import create_aws_resources
from local_stack.template.document import Template, load_template
from local_stack.template.intrinsics import (
    DEFAULT_ACCOUNT_ID,
    StackResources,
    failed_rule_assertions,
    resolve_parameters,
    resolver_for,
)
from local_stack.workers import PollingWorker, Worker

LOG = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = PROJECT_ROOT / "template.yaml"
REGION = "us-east-1"  # moto server keeps state per region: one region for everything
EMULATOR_API_KEY = "sk_test_emulator"
DEMO_CUSTOMER_ID = "cus_LocalDemoAcme"
STRIPE_API_BASE_PARAMETER = "StripeApiBase"
STRIPE_KEY_PARAMETER = "StripeApiKeyParameterName"
WEBHOOK_SECRETS_PARAMETER = "StripeWebhookSecretsParameterName"
WEBHOOK_ROUTE = "/stripe/webhook"
API_BASE_URL_PARAMETER = "ApiBaseUrl"
STRIPE_API_VERSION = "2026-10-28.endive"  # the endpoint's pinned version, as in production
# The thin events the deployed event destination sends (README, Deploy): Stripe's meter error reports.
THIN_EVENT_TYPES = ("v1.billing.meter.error_report_triggered", "v1.billing.meter.no_meter_found")


class StackError(Exception):
    """The stack cannot start; the message says why and what to do."""


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name) or str(default)
    try:
        port = int(raw)
    except ValueError:
        raise StackError(f"{name}={raw!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise StackError(f"{name}={port} is not a port number")
    return port


def parse_parameter_overrides(text: str) -> dict[str, str]:
    """`Key=Value Key2=Value2` (the form of `sam deploy --parameter-overrides`)."""
    overrides = {}
    for item in text.split():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise StackError(f"parameter override {item!r} is not Key=Value")
        overrides[key] = value
    return overrides


def partner_event_sources(template: Template, parameter_overrides: Mapping[str, Any]) -> list[str]:
    """The partner event sources the template's event buses associate (`EventSourceName`), where they exist."""
    resolver = resolver_for(template, StackResources(), parameter_overrides)
    return [
        str(resolver.resolve(resource["Properties"]["EventSourceName"]))
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") == "AWS::Events::EventBus"
        and "EventSourceName" in (resource.get("Properties") or {})
        and resolver.resource_enabled(logical_id)
    ]


INGRESS_PARAMETER = "StripeEventIngress"
# The partner event source parameter of each of Stripe's two destinations (one payload style each), and what it sends.
EVENT_DESTINATIONS = (
    ("StripePartnerEventSourceName", "snapshot"),
    ("StripeThinEventSourceName", "thin"),
)


def uses_eventbridge(parameter_overrides: Mapping[str, str]) -> bool:
    return parameter_overrides.get(INGRESS_PARAMETER) in ("eventbridge", "both")


def emulator_event_destinations(stripe_api_base: str) -> dict[str, str]:
    """What a customer does in Stripe's Workbench for StripeEventIngress=eventbridge: two Amazon EventBridge event
    destinations on this account (snapshot events; thin meter error reports), each making its partner event source
    (https://docs.stripe.com/event-destinations/eventbridge). Their sources, as template parameters."""
    import stripe  # noqa: PLC0415 - only for this mode

    from incytes_billing.domain.event_processor import APPLIED_EVENTS  # noqa: PLC0415 - only for this mode

    subscribed = {"snapshot": APPLIED_EVENTS, "thin": THIN_EVENT_TYPES}
    client = stripe.StripeClient(EMULATOR_API_KEY, base_addresses={"api": stripe_api_base})
    sources = {}
    for parameter, payload in EVENT_DESTINATIONS:
        params: Any = {
            "name": f"incytes-billing-local-{payload}",
            "type": "amazon_eventbridge",
            "event_payload": payload,
            "enabled_events": list(subscribed[payload]),
            "amazon_eventbridge": {"aws_account_id": DEFAULT_ACCOUNT_ID, "aws_region": REGION},
            **({"snapshot_api_version": STRIPE_API_VERSION} if payload == "snapshot" else {}),
        }
        destination = client.v2.core.event_destinations.create(params)
        sources[parameter] = f"aws.partner/stripe.com/{destination.id}"
    return sources


def _check_rules(template: Template, parameter_overrides: Mapping[str, str]) -> None:
    refused = failed_rule_assertions(template, parameter_overrides)
    if refused:  # as CloudFormation would, before anything is created
        raise StackError("the template's Rules refuse these parameters:\n  " + "\n  ".join(refused))


def ensure_partner_event_source(session: Any, name: str) -> None:
    """Create the partner event source in moto, as Stripe does when an Amazon EventBridge event destination is
    created (https://docs.stripe.com/event-destinations/eventbridge), unless it exists: the bus that associates it
    needs it, on AWS as in moto."""
    events = session.client("events")
    # moto answers a describe of an unknown source with an internal error (and a traceback in its log); the bus that
    # associates the source (named after it, as AWS requires) is refused cleanly instead. It is created again with
    # the template's resources.
    try:
        events.create_event_bus(Name=name, EventSourceName=name)
    except Exception as error:
        code = getattr(error, "response", {}).get("Error", {}).get("Code")
        if code == "ResourceAlreadyExistsException":
            return
        if code != "ResourceNotFoundException":
            raise
    else:
        events.delete_event_bus(Name=name)
        return
    events.create_partner_event_source(Name=name, Account=DEFAULT_ACCOUNT_ID)
    LOG.info("partner event source %s created (as Stripe's event destination would)", name)


def stripe_key_mode(api_key: str | None) -> str:
    """ "emulator" when no key (or the emulator's) is given, "test" for a Stripe test key; live keys refused."""
    if not api_key or api_key == EMULATOR_API_KEY:
        return "emulator"
    if api_key.startswith(("sk_test_", "rk_test_")):
        return "test"
    if api_key.startswith(("sk_live_", "rk_live_")):
        raise StackError("STRIPE_API_KEY holds a LIVE key: the local stack only talks to Stripe's test mode")
    raise StackError("STRIPE_API_KEY is not a Stripe test secret key (sk_test_...); unset it to use the emulator")


@dataclass(frozen=True)
class StackSettings:
    host: str = "127.0.0.1"
    api_port: int = 3000
    aws_port: int = 5000
    stripe_port: int = 12111
    stripe_api_key: str | None = None  # a real Stripe test key; None: the emulator
    webhook_secret: str = "whsec_local"  # noqa: S105 - the local stack's well-known default
    template_path: Path = DEFAULT_TEMPLATE
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    stack_name: str = "local"
    run_catalog: bool = True
    # Stripe's meter summaries "might not immediately reflect recently received meter events"
    # (https://docs.stripe.com/api/billing/meter-event-summary/list): the local emulator lags too, by default.
    # No figure is documented; 60 s is the emulator's choice. Tests that need instant counting set 0.
    meter_lag_seconds: int = 60
    # The handlers' INFO logs and metrics, and the stack's debug details, on the console (local_stack.console).
    verbose: bool = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> StackSettings:
        env = os.environ if environ is None else environ
        api_key = env.get("STRIPE_API_KEY") or None
        settings = cls(
            host=env.get("LOCAL_HOST") or "127.0.0.1",
            api_port=_port(env, "LOCAL_API_PORT", 3000),
            aws_port=_port(env, "LOCAL_AWS_PORT", 5000),
            stripe_port=_port(env, "STRIPE_EMULATOR_PORT", 12111),
            stripe_api_key=api_key if stripe_key_mode(api_key) == "test" else None,
            webhook_secret=env.get("STRIPE_WEBHOOK_SECRET") or "whsec_local",
            parameter_overrides=parse_parameter_overrides(env.get("LOCAL_PARAMETER_OVERRIDES", "")),
            meter_lag_seconds=int(env.get("STRIPE_EMULATOR_METER_LAG_SECONDS") or 60),
            verbose=verbose_from_environment(env),
        )
        return replace(settings, **overrides)

    @property
    def project_root(self) -> Path:
        """SAM resolves CodeUri/ContentUri against the template's directory."""
        return self.template_path.resolve().parent

    @property
    def aws_endpoint_url(self) -> str:
        return f"http://{self.host}:{self.aws_port}"


@dataclass
class StackContext:
    """What workers get: everything the running stack knows."""

    settings: StackSettings
    template: Template
    resources: StackResources
    parameter_overrides: dict[str, str]
    runner: LambdaRunner
    gateway: ApiGateway
    boto3_session: Any
    stripe_api_key: str
    stripe_api_base: str | None  # None: api.stripe.com


WorkerFactory = Callable[[StackContext], Iterable[Worker]]
# Later issues register their event sources here (DynamoDB stream and SQS pollers, schedules).
WORKER_FACTORIES: list[WorkerFactory] = [sqs_workers, stream_workers, schedule_workers]


def configure_aws_environment(endpoint_url: str, region: str = REGION) -> None:
    """Point every boto3 client of this process (the handlers' included) at moto, with fake credentials.

    The developer's own AWS configuration (profiles, config files, per-service endpoints) is shut out, so the
    local stack can never reach a real AWS account.
    """
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL_") or name in (
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ROLE_ARN",
        ):
            del os.environ[name]
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_SECURITY_TOKEN": "testing",
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    # Local traffic must not go through an HTTP proxy configured for the outside world.
    for name in ("NO_PROXY", "no_proxy"):
        hosts = [h for h in os.environ.get(name, "").split(",") if h]
        os.environ[name] = ",".join([*hosts, *(h for h in ("127.0.0.1", "localhost") if h not in hosts)])


def runner_options(settings: StackSettings) -> dict[str, Any]:
    """What a runner of the stack's functions is given besides the template, resources and overrides."""
    return {
        "extra_environment": {"STRIPE_WEBHOOK_SECRET": settings.webhook_secret},
        "region": REGION,
        "account_id": DEFAULT_ACCOUNT_ID,
        "stack_name": settings.stack_name,
    }


def make_runner(
    settings: StackSettings, template: Template, resources: StackResources, overrides: Mapping[str, str]
) -> LambdaRunner:
    """The functions of `template` in this process, as `python -m local_stack.invoke` runs them."""
    return LambdaRunner(template, settings.project_root, resources, overrides, **runner_options(settings))


def _ensure_port_free(host: str, port: int, what: str, variable: str) -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise StackError(f"{what} cannot listen on {host}:{port} ({error.strerror}); set {variable}") from None


def _import_emulator() -> Any:
    try:
        from stripe_emulator import StripeEmulator  # noqa: PLC0415 - optional until the stack needs it
    except ImportError as error:
        raise StackError(
            f"the Stripe emulator (devtools/stripe_emulator, class StripeEmulator) cannot be imported: {error}. "
            "Run with PYTHONPATH=layers/shared:devtools:. (make local does), or set STRIPE_API_KEY to a test key."
        ) from error
    return StripeEmulator


def _import_catalog_sync() -> Callable[[str, str | None], list[str]]:
    try:
        from incytes_billing.wiring.catalog_sync import run_catalog_sync  # noqa: PLC0415
    except ImportError as error:
        raise StackError(
            f"the catalog bootstrap (incytes_billing.wiring.catalog_sync) cannot be imported: {error}. "
            "Is layers/shared on PYTHONPATH? (--skip-catalog starts without it.)"
        ) from error
    return run_catalog_sync


class LocalStack:
    """Starts and stops the pieces in order; `start()` answers one line per endpoint."""

    def __init__(
        self,
        settings: StackSettings,
        *,
        worker_factories: Iterable[WorkerFactory] | None = None,
        out: TextIO | None = None,
    ) -> None:
        self.settings = settings
        self.worker_factories = list(WORKER_FACTORIES if worker_factories is None else worker_factories)
        self.out = out or sys.stdout
        self.context: StackContext | None = None
        self.workers: list[Worker] = []
        self._moto: Any = None
        self._emulator: Any = None
        self._api: LocalApiServer | None = None
        self._runner: InstancePoolRunner | None = None

    def _say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def start(self) -> list[str]:
        s = self.settings
        template = load_template(s.template_path)
        declared = (template.get("Parameters") or {}).keys()
        # With the emulator and an EventBridge ingress, the partner sources are the emulator's destinations' (made
        # below, before the buses): the Rules are checked once they are known.
        emulated_eventbridge = s.stripe_api_key is None and uses_eventbridge(s.parameter_overrides)
        if not emulated_eventbridge:
            _check_rules(template, s.parameter_overrides)

        # Refuse busy ports before starting anything (moto's server thread would hang on one).
        _ensure_port_free(s.host, s.aws_port, "moto", "LOCAL_AWS_PORT")
        _ensure_port_free(s.host, s.api_port, "the API", "LOCAL_API_PORT")
        if s.stripe_api_key is None:
            _ensure_port_free(s.host, s.stripe_port, "the Stripe emulator", "STRIPE_EMULATOR_PORT")

        # AWS: moto server, and this process's boto3 (handlers included) pointed at it.
        configure_aws_environment(s.aws_endpoint_url)
        import boto3  # noqa: PLC0415 - after the environment is set
        from moto.server import ThreadedMotoServer  # noqa: PLC0415 - heavy; only when the stack runs
        from moto_partner_events import patch_moto  # noqa: PLC0415 - with moto

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request log lines
        patch_moto()  # partner event buses as on AWS (EventBridge ingress)
        self._moto = ThreadedMotoServer(ip_address=s.host, port=s.aws_port, verbose=False)
        self._moto.start()
        session = boto3.session.Session(region_name=REGION)

        # Stripe: the emulator, or Stripe's test mode with a real test key.
        if s.stripe_api_key is None:
            emulator_class = _import_emulator()
            self._emulator = emulator_class(s.host, s.stripe_port)
            stripe_url: str = self._emulator.start()
            # The customer the README's curl examples and events/funders/put_funder_linked.json name.
            self._emulator.seed_customer(DEMO_CUSTOMER_ID, "Acme Health (demo)")
            self._emulator.set_meter_processing_lag(s.meter_lag_seconds)
            api_key, api_base = EMULATOR_API_KEY, stripe_url
            stripe_line = f"Stripe      {stripe_url} (emulator, demo customer {DEMO_CUSTOMER_ID})"
        else:
            api_key, api_base = s.stripe_api_key, None
            stripe_line = "Stripe      https://api.stripe.com (test mode, STRIPE_API_KEY)"

        overrides = dict(s.parameter_overrides)
        if STRIPE_API_BASE_PARAMETER in declared:
            overrides[STRIPE_API_BASE_PARAMETER] = api_base or ""
        if API_BASE_URL_PARAMETER in declared and API_BASE_URL_PARAMETER not in overrides:
            # Finance's messages link to this API for approvals: the local one, not a made-up execute-api host.
            overrides[API_BASE_URL_PARAMETER] = f"http://{s.host}:{s.api_port}"
        if emulated_eventbridge:
            overrides.update(emulator_event_destinations(api_base or ""))
            _check_rules(template, overrides)
        parameters = resolve_parameters(template, overrides)

        eventbridge_lines = []
        for source in partner_event_sources(template, overrides):
            ensure_partner_event_source(session, source)
            eventbridge_lines.append(f"EventBridge {source} (partner event source: PutPartnerEvents -> its bus)")
        resources = create_aws_resources(
            template, session_or_clients=session, prefix=s.stack_name, parameter_overrides=overrides
        )
        for parameter, value in ((STRIPE_KEY_PARAMETER, api_key), (WEBHOOK_SECRETS_PARAMETER, s.webhook_secret)):
            if parameter in parameters:
                name = "/" + str(parameters[parameter]).lstrip("/")
                session.client("ssm").put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)

        if s.run_catalog:
            run_catalog_sync = _import_catalog_sync()
            for line in run_catalog_sync(api_key, api_base):
                self._say(f"catalog: {line}")

        # One worker process per function instance: requests and event sources run concurrently, as on Lambda.
        runner = self._runner = InstancePoolRunner(
            template, s.project_root, resources, overrides, verbose=s.verbose, **runner_options(s)
        )
        runner.start()
        gateway = ApiGateway.from_template(template, runner.synchronous(), overrides)
        self._api = LocalApiServer(gateway, s.host, s.api_port)
        api_url = self._api.start()
        for route in gateway.routes:
            auth = "no auth" if route.auth == "NONE" else f"{route.auth}, not checked locally"
            LOG.info("route %-6s %s -> %s (%s)", route.method, route.path_template, route.function_logical_id, auth)
        webhook_line = None
        if self._emulator is not None and any(route.path_template == WEBHOOK_ROUTE for route in gateway.routes):
            # The emulator then signs and delivers its events to our webhook route, as Stripe would.
            url = f"{api_url}{WEBHOOK_ROUTE}"
            self._emulator.add_webhook_endpoint(url, s.webhook_secret, api_version=STRIPE_API_VERSION)
            # Meter error reports are thin events, sent by an event destination of their own (as on Stripe).
            self._emulator.add_webhook_endpoint(url, s.webhook_secret, THIN_EVENT_TYPES, event_payload="thin")
            webhook_line = f"Webhooks    {url} (emulator -> API, snapshot and thin, signed with STRIPE_WEBHOOK_SECRET)"

        self.context = StackContext(
            settings=s,
            template=template,
            resources=resources,
            parameter_overrides=overrides,
            runner=runner,
            gateway=gateway,
            boto3_session=session,
            stripe_api_key=api_key,
            stripe_api_base=api_base,
        )
        for factory in self.worker_factories:
            for worker in factory(self.context):
                worker.start()
                self.workers.append(worker)
                LOG.info("worker %s started", worker.name)

        host, port = self._moto.get_host_and_port()
        lines = [f"API         {api_url}", f"AWS (moto)  http://{host}:{port}", stripe_line]
        if webhook_line is not None:
            lines.append(webhook_line)
        lines.extend(eventbridge_lines)
        for topic, url in subscribe_inboxes(session, resources).items():
            lines.append(f"SNS inbox   {url} ({topic}; make inbox)")
        return [*lines, *self._notices()]

    def _notices(self) -> list[str]:
        """What the banner says after the endpoints: where state lives, and what the console shows."""
        if self._emulator is not None:
            state = "in memory only (moto, the Stripe emulator): lost when the stack stops"
        else:
            state = "AWS side in memory only (moto): lost when the stack stops; Stripe's test mode keeps its own"
        logs = (
            "handler logs and metrics shown (verbose)"
            if self.settings.verbose
            else f"one line per request; handler logs and metrics with --verbose or {VERBOSE_VARIABLE}=1"
        )
        return [f"State       {state}", f"Logs        {logs}"]

    def stop(self) -> None:
        """Stop whatever started, last first; never raises."""
        steps: list[tuple[str, Callable[[], None]]] = []
        if self._runner is not None:
            # Invocations in flight would hold the workers' stop for as long as they run: tell the workers to
            # stop, then cut those invocations short.
            steps.extend((f"worker {w.name}", w.stop_soon) for w in self.workers if isinstance(w, PollingWorker))
            steps.append(("function instances", self._runner.stop))
        steps.extend((f"worker {w.name}", w.stop) for w in reversed(self.workers))
        if self._api is not None:
            steps.append(("API server", self._api.stop))
        if self._emulator is not None:
            steps.append(("Stripe emulator", self._emulator.stop))
        if self._moto is not None:
            steps.append(("moto server", self._stop_moto))
        for what, stop in steps:
            try:
                stop()
            except Exception:
                LOG.exception("stopping %s failed", what)
        self.workers, self._api, self._runner, self._emulator, self._moto = [], None, None, None, None

    def _stop_moto(self) -> None:
        self._moto.stop()
        server = getattr(self._moto, "_server", None)  # ThreadedMotoServer.stop() leaves the socket open
        if server is not None:
            server.server_close()
