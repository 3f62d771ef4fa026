"""The EMF line a real invocation prints: every metric of docs/operations.md, one dimension (service)."""

import json
from typing import Any

import pytest
from literals import VALID
from support import API_KEY, API_SECRET, invoke, lambda_handler, receive_event, send, send_and_invoke

import rokt_forwarder
from devstack.embedded_aws import EmbeddedAws
from devstack.function import METRICS_NAMESPACE, SERVICE_NAME
from devstack.sandbox import Sandbox, SandboxConfig
from rokt_forwarder.adapters import metrics


def emf_lines(output: str) -> list[dict[str, Any]]:
    """The EMF documents among stdout's lines (the logger writes JSON lines there too)."""
    found = []
    for line in output.splitlines():
        document = json.loads(line) if line.startswith("{") else {}
        if "_aws" in document:
            found.append(document)
    return found


def metric_values(document: dict[str, Any]) -> dict[str, float]:
    """Each metric's value; the directive must name it, with its unit, under our namespace."""
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == METRICS_NAMESPACE
    assert directive["Dimensions"] == [["service"]], "one dimension: the series stay flat"
    assert document["service"] == SERVICE_NAME
    names = [metric["Name"] for metric in directive["Metrics"]]
    assert len(names) == len(set(names))
    values = {}
    for name in names:
        (value,) = document[name]
        values[name] = value
    return values


def run(
    aws: EmbeddedAws,
    bodies: list[Any],
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str] | None = None,
    **sandbox: Any,
) -> tuple[dict[str, float], dict[str, Any], set[str], list[str]]:
    """One invocation on `bodies`: its metrics, the sandbox's stats, the failed ids and the sent ids."""
    capsys.readouterr()
    invocation = send_and_invoke(aws, bodies, env=env, **sandbox)
    (document,) = emf_lines(capsys.readouterr().out)
    return metric_values(document), invocation.sandbox.stats(), invocation.failed, invocation.ids


def test_an_invocation_publishes_every_metric_of_what_it_did(
    aws: EmbeddedAws, capsys: pytest.CaptureFixture[str]
) -> None:
    bodies = [{**VALID, "customerid": str(n)} for n in range(6)] + [{"amount": 1}]
    values, api, failed, _ = run(aws, bodies, capsys, p429=0.5, rate=0)
    assert failed == set()
    assert set(values) == set(metrics.Metric)
    assert (values["RecordsDelivered"], values["RecordsDeadLettered"], values["RecordsFailed"]) == (6, 1, 0)
    assert values["ApiRequests"] == api["requests"]
    assert values["ApiThrottled"] == api["by_status"]["429"] >= 1, "the seed must throttle at least once"
    assert values["ApiRetries"] == api["by_status"]["429"], "each 429 was retried once"
    assert values["ApiSplits"] == 0
    assert values["ApiLatency"] > 0
    assert 0 <= values["OldestRecordAge"] < 3600, "SentTimestamp is when this test sent them"
    assert values["CredentialsFailures"] == 0


def test_the_wait_for_a_share_of_the_rate_limit_is_published(
    aws: EmbeddedAws, capsys: pytest.CaptureFixture[str]
) -> None:
    # A 10 batches/s account: thirty records wait about three seconds for their share.
    env = {"ROKT_MAX_BATCHES_PER_SECOND": "10", "ROKT_CONCURRENCY": "1"}
    bodies = [{**VALID, "customerid": str(n)} for n in range(30)]
    values, _, failed, _ = run(aws, bodies, capsys, env=env, rate=0)
    assert failed == set()
    assert values["PacingWait"] > 1.0


def test_a_credentials_failure_is_counted_and_logged_at_error(
    aws: EmbeddedAws, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    values, api, failed, ids = run(aws, [VALID, VALID], capsys, api_key="other-key")
    assert failed == set(ids), "failed (SQS retries them), never dead-lettered"
    assert api["by_status"] == {"403": 2}
    assert values["CredentialsFailures"] == 1
    assert (values["RecordsDelivered"], values["RecordsDeadLettered"], values["RecordsFailed"]) == (0, 0, 2)
    assert aws.drain_dlq() == []
    (error,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert error.getMessage() == "Event API credentials failed"
    assert "403" in error.__dict__["reason"]


def test_an_unreadable_secret_is_logged_at_error_without_the_secret(
    aws: EmbeddedAws, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    ids = send(aws, [VALID])
    with (
        Sandbox(SandboxConfig(api_key=API_KEY, api_secret=API_SECRET)) as api,
        lambda_handler(
            {**aws.environment(), "ROKT_API_URL": api.url, "ROKT_SECRET_ID": "no-such-secret"}
        ) as handler,
    ):
        capsys.readouterr()
        failed = invoke(handler, receive_event(aws, 1))
    output = capsys.readouterr().out
    assert failed == set(ids)
    assert api.stats()["requests"] == 0
    (document,) = emf_lines(output)
    assert metric_values(document)["CredentialsFailures"] == 1
    (error,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert error.getMessage() == "Event API credentials failed"
    assert "no-such-secret" in error.__dict__["reason"], "it names the secret, so one knows where to look"
    logged = output + json.dumps([r.__dict__ for r in caplog.records], default=str)
    for secret in (API_KEY, API_SECRET, "jane@example.com"):
        assert secret not in logged


def test_every_metrics_line_says_which_version_ran_without_a_dimension_for_it(
    aws: EmbeddedAws, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    send_and_invoke(aws, [VALID])
    (document,) = emf_lines(capsys.readouterr().out)
    metric_values(document)  # one dimension still: the service
    assert document["version"] == rokt_forwarder.__version__
