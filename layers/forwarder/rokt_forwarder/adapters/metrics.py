"""Per-invocation metrics as CloudWatch Embedded Metric Format: one JSON line on stdout, no API call.

Powertools Metrics writes the line (namespace and service from POWERTOOLS_METRICS_NAMESPACE and
POWERTOOLS_SERVICE_NAME); CloudWatch turns it into metrics. The only dimension is the service, so the
number of metric series stays flat however much traffic there is. docs/operations.md says what each
metric means and which alarm watches it.
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Final

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from rokt_forwarder import __version__
from rokt_forwarder.outcome import DeadLettered, Delivered, Failed, Outcome, Skipped
from rokt_forwarder.ports import DeliveryStats
from rokt_forwarder.record import Record

logger = Logger(child=True)


class Metric(StrEnum):
    """Every metric the forwarder emits, by the name CloudWatch, the alarms and the dashboard know."""

    DELIVERED = "RecordsDelivered"
    DEAD_LETTERED = "RecordsDeadLettered"
    FAILED = "RecordsFailed"  # reported in batchItemFailures: SQS delivers them again
    SKIPPED = "RecordsSkipped"  # producers' events their mapping does not count as conversions
    REQUESTS = "ApiRequests"
    THROTTLED = "ApiThrottled"  # answers 429
    RETRIES = "ApiRetries"
    SPLITS = "ApiSplits"
    LATENCY = "ApiLatency"  # mean time per request, in milliseconds
    PACING_WAIT = "PacingWait"  # seconds spent waiting for a share of the account's rate limit
    OLDEST_RECORD_AGE = "OldestRecordAge"  # seconds since SQS took the SQS event's oldest record
    CREDENTIALS_FAILURES = "CredentialsFailures"  # 1 when no record could be sent for want of them


_BY_OUTCOME: Final = {
    Delivered: Metric.DELIVERED,
    DeadLettered: Metric.DEAD_LETTERED,
    Failed: Metric.FAILED,
    Skipped: Metric.SKIPPED,
}


def publish(
    records: Sequence[Record], outcomes: Iterable[Outcome], stats: DeliveryStats, now_ms: int
) -> None:
    """`ports.Publish`: one invocation's metrics; never raises, since metrics must not fail the records."""
    try:
        # EphemeralMetrics, not Metrics: Metrics shares one metric set across instances (and threads).
        metrics = EphemeralMetrics()
        counts = Counter(_BY_OUTCOME[type(o)] for o in outcomes)
        for name in _BY_OUTCOME.values():
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=counts[name])
        metrics.add_metric(name=Metric.REQUESTS, unit=MetricUnit.Count, value=stats.requests)
        metrics.add_metric(name=Metric.THROTTLED, unit=MetricUnit.Count, value=stats.throttled)
        metrics.add_metric(name=Metric.RETRIES, unit=MetricUnit.Count, value=stats.retries)
        metrics.add_metric(name=Metric.SPLITS, unit=MetricUnit.Count, value=stats.splits)
        metrics.add_metric(name=Metric.PACING_WAIT, unit=MetricUnit.Seconds, value=stats.paced_seconds)
        metrics.add_metric(
            name=Metric.CREDENTIALS_FAILURES,
            unit=MetricUnit.Count,
            value=int(stats.credentials_failure is not None),
        )
        if stats.requests:
            latency = 1000 * stats.api_seconds / stats.requests
            metrics.add_metric(name=Metric.LATENCY, unit=MetricUnit.Milliseconds, value=latency)
        if sent := [record.sent_ms for record in records if record.sent_ms is not None]:
            age = max(0, now_ms - min(sent)) / 1000
            metrics.add_metric(name=Metric.OLDEST_RECORD_AGE, unit=MetricUnit.Seconds, value=age)
        # A property of the line, not a dimension: a dimension would start new series at each release
        # and the alarms, which watch the service dimension alone, would stop seeing them.
        metrics.add_metadata(key="version", value=__version__)
        metrics.flush_metrics()
    except Exception as error:
        logger.warning("metrics not published", extra={"error": type(error).__name__})
