"""metrics.publish on its own: what it computes from records and stats, and that it never raises."""

import json
from typing import Any

import pytest
from literals import NOW_MS

from rokt_forwarder.adapters import metrics
from rokt_forwarder.outcome import DELIVERED, DeadLettered, Failed, Skipped
from rokt_forwarder.ports import DeliveryStats
from rokt_forwarder.record import Record


def record(sent_ms: int | None) -> Record:
    attributes = {"ApproximateReceiveCount": "1"}
    if sent_ms is not None:
        attributes["SentTimestamp"] = str(sent_ms)
    raw = {
        "messageId": "m",
        "body": "{}",
        "receiptHandle": "h",
        "eventSourceARN": "arn:q",
        "attributes": attributes,
    }
    return Record.of(raw)


def published(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    (line,) = capsys.readouterr().out.splitlines()
    document: dict[str, Any] = json.loads(line)
    return {name: document[name][0] for name in metrics.Metric if name in document}


@pytest.fixture(autouse=True)
def namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Test")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "test")


def test_each_metric_publishes_its_own_number(capsys: pytest.CaptureFixture[str]) -> None:
    """Every value differs from every other, so publishing one stat under another's name fails."""
    stats = DeliveryStats(requests=7, retries=5, splits=6, by_status={"202": 3, "429": 4})
    stats.api_seconds, stats.paced_seconds = 0.07, 8.5
    outcomes = [DELIVERED] * 3 + [DeadLettered("x")] * 2 + [Failed("y")] + [Skipped("z")] * 9
    records = [record(NOW_MS - 90_000), record(NOW_MS - 5_000), record(None)]
    metrics.publish(records, outcomes, stats, NOW_MS)
    values = published(capsys)
    assert values == {
        "RecordsDelivered": 3,
        "RecordsDeadLettered": 2,
        "RecordsFailed": 1,
        "RecordsSkipped": 9,
        "ApiRequests": 7,
        "ApiThrottled": 4,
        "ApiRetries": 5,
        "ApiSplits": 6,
        "ApiLatency": pytest.approx(10.0),
        "PacingWait": 8.5,
        "OldestRecordAge": 90.0,
        "CredentialsFailures": 0,
    }
    assert len({float(value) for value in values.values()}) == len(values), "no two metrics share a value"


def test_no_request_means_no_latency_and_no_timestamp_no_age(capsys: pytest.CaptureFixture[str]) -> None:
    stats = DeliveryStats(credentials_failure="credentials: cannot read secret s: AccessDeniedException")
    metrics.publish([record(None)], [Failed("credentials")], stats, NOW_MS)
    values = published(capsys)
    assert "ApiLatency" not in values
    assert "OldestRecordAge" not in values
    assert values["CredentialsFailures"] == 1


def test_without_a_namespace_it_warns_and_never_raises(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_NAMESPACE")
    metrics.publish([record(NOW_MS)], [DELIVERED], DeliveryStats(), NOW_MS)
    assert capsys.readouterr().out == ""
    assert [r.getMessage() for r in caplog.records] == ["metrics not published"]
