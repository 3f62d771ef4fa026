"""Each record's outcome, and the SQS partial-batch response built from them.

Only FAILED records are reported: SQS redelivers those. Delivered and dead-lettered records are done.
"""

import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

# Failed records come back after BASE * 2^(receives-1) seconds (capped), not the queue's full timeout.
# With MaxReceiveCount 5 that rides out about ten minutes of API trouble before SQS dead-letters.
RETRY_BASE_SECONDS = 30
RETRY_CAP_SECONDS = 900  # 15 minutes; SQS allows up to 12 hours


class Status(StrEnum):
    DELIVERED = "delivered"
    DEAD_LETTERED = "dead_lettered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    reason: str | None = None
    retry_after: float | None = None


DELIVERED = Outcome(Status.DELIVERED)
UNDECIDED = Outcome(Status.FAILED, "no outcome (the invocation failed)")


def response(message_ids: Sequence[str], outcomes: Mapping[str, Outcome]) -> dict[str, list[dict[str, str]]]:
    """Lambda's partial-batch response; a record without an outcome is reported failed, never lost."""
    return {
        "batchItemFailures": [
            {"itemIdentifier": message_id}
            for message_id in message_ids
            if outcomes.get(message_id, UNDECIDED).status is Status.FAILED
        ]
    }


def retry_delay(receive_count: int, retry_after: float | None, rng: random.Random) -> int:
    """Seconds until a failed record is visible again: the API's Retry-After, else jittered backoff."""
    backoff = RETRY_BASE_SECONDS * 2 ** min(max(receive_count - 1, 0), 16)
    seconds = rng.uniform(backoff / 2, backoff)  # equal jitter: never sooner than half the backoff
    return int(min(RETRY_CAP_SECONDS, max(seconds, retry_after or 0)))


def summary(outcomes: Iterable[Outcome], top: int = 10) -> dict[str, object]:
    """Counts per status and the most common reasons (which never hold PII) for the log line."""
    outcomes = list(outcomes)
    counts = Counter(o.status.value for o in outcomes)
    reasons = Counter(f"{o.status.value}: {o.reason}" for o in outcomes if o.reason)
    return {**{s.value: counts.get(s.value, 0) for s in Status}, "reasons": dict(reasons.most_common(top))}
