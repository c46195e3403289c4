"""local_stack.stack settings and the workers extension point."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from local_stack.stack import (
    DEFAULT_TEMPLATE,
    StackError,
    StackSettings,
    configure_aws_environment,
    parse_parameter_overrides,
    stripe_key_mode,
)
from local_stack.workers import PollingWorker


def test_defaults() -> None:
    settings = StackSettings.from_environment({})
    assert (settings.host, settings.api_port, settings.aws_port, settings.stripe_port) == (
        "127.0.0.1",
        3000,
        5000,
        12111,
    )
    assert settings.stripe_api_key is None  # the emulator
    assert settings.webhook_secret == "whsec_local"
    assert settings.template_path == DEFAULT_TEMPLATE
    assert settings.project_root == DEFAULT_TEMPLATE.parent
    assert settings.aws_endpoint_url == "http://127.0.0.1:5000"
    # Stripe's summaries lag behind recent meter events (no figure documented): the local emulator does too.
    assert settings.meter_lag_seconds == 60


def test_environment_overrides() -> None:
    settings = StackSettings.from_environment(
        {
            "LOCAL_HOST": "192.0.2.1",
            "LOCAL_API_PORT": "3100",
            "LOCAL_AWS_PORT": "5100",
            "STRIPE_EMULATOR_PORT": "12200",
            "STRIPE_API_KEY": "sk_test_realkey",
            "STRIPE_WEBHOOK_SECRET": "whsec_cli",
            "LOCAL_PARAMETER_OVERRIDES": "LogLevel=DEBUG Stage=dev",
            "STRIPE_EMULATOR_METER_LAG_SECONDS": "0",
        },
        run_catalog=False,
        template_path=Path("/x/template.yaml"),
    )
    assert (settings.host, settings.api_port, settings.aws_port, settings.stripe_port) == (
        "192.0.2.1",
        3100,
        5100,
        12200,
    )
    assert settings.stripe_api_key == "sk_test_realkey"
    assert settings.webhook_secret == "whsec_cli"
    assert settings.parameter_overrides == {"LogLevel": "DEBUG", "Stage": "dev"}
    assert settings.meter_lag_seconds == 0
    assert settings.run_catalog is False
    assert settings.project_root == Path("/x")


@pytest.mark.parametrize(
    ("key", "mode"),
    [
        (None, "emulator"),
        ("", "emulator"),
        ("sk_test_emulator", "emulator"),
        ("sk_test_abc", "test"),
        ("rk_test_a", "test"),
    ],
)
def test_stripe_key_modes(key: str | None, mode: str) -> None:
    assert stripe_key_mode(key) == mode


@pytest.mark.parametrize(("key", "message"), [("sk_live_abc", "LIVE"), ("pk_test_abc", "not a Stripe test secret")])
def test_refused_stripe_keys(key: str, message: str) -> None:
    with pytest.raises(StackError, match=message):
        StackSettings.from_environment({"STRIPE_API_KEY": key})


@pytest.mark.parametrize("value", ["http", "-1", "70000"])
def test_bad_ports(value: str) -> None:
    with pytest.raises(StackError, match="LOCAL_API_PORT"):
        StackSettings.from_environment({"LOCAL_API_PORT": value})


def test_parameter_overrides_syntax() -> None:
    assert parse_parameter_overrides("") == {}
    assert parse_parameter_overrides("A=1  B=x=y C=") == {"A": "1", "B": "x=y", "C": ""}
    with pytest.raises(StackError, match="Key=Value"):
        parse_parameter_overrides("A")


def test_aws_environment_is_fake_and_isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "https://dynamodb.example")
    monkeypatch.setenv("NO_PROXY", "corp.example")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                 "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE",
                 "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED", "no_proxy"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)  # restored by monkeypatch after the test
    configure_aws_environment("http://127.0.0.1:5999")
    assert "AWS_PROFILE" not in os.environ
    assert "AWS_ENDPOINT_URL_DYNAMODB" not in os.environ
    assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5999"
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert os.environ["AWS_CONFIG_FILE"] == os.devnull
    assert os.environ["NO_PROXY"] == "corp.example,127.0.0.1,localhost"


def test_polling_worker_polls_until_stopped_and_survives_errors(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    done = threading.Event()

    def poll_once() -> bool:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("handler failed")
        if len(calls) >= 4:
            done.set()
        return len(calls) == 1  # busy once: called again at once

    worker = PollingWorker("test", poll_once, interval=0.01)
    worker.start()
    assert worker.running
    assert done.wait(5)
    worker.stop()
    assert not worker.running
    settled = len(calls)
    time.sleep(0.05)
    assert len(calls) == settled  # no poll after stop()
    assert "worker test failed" in caplog.text
