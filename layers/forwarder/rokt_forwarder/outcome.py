"""Where each record ends, and the SQS partial-batch response built from that.

A record is `Delivered`, `Refused` (on its way to the DLQ), `Failed` or `Skipped`; once the DLQ has
answered, a refused record is `DeadLettered` (or `Failed`, when the DLQ send failed). Only failed
records are reported to SQS, which delivers them again; delivered, dead-lettered and skipped records
are done.
"""

import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Final, assert_never

from rokt_forwarder.reasons import clip

# Failed records come back after BASE * 2^(receives-1) seconds, at most CAP, jittered: with the
# template's MaxReceiveCount (200) that rides out at least 24 hours of API trouble before the last
# receive (docs/operations.md, "Outages"). A Retry-After counts up to SQS's 12-hour visibility limit.
RETRY_BASE_SECONDS = 30
RETRY_CAP_SECONDS = 900  # 15 minutes: after an outage, records are back within this
MAX_VISIBILITY_SECONDS = 12 * 3600  # the most ChangeMessageVisibility allows
# A record failing this long after SQS took it is dead-lettered with its reason: the template's
# retention (4 days) is longer by more than one delay, so no record ever expires unseen.
MAX_RETRY_SECONDS = 3 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Delivered:
    """The API accepted the record's batch."""

    status: ClassVar[str] = "delivered"


@dataclass(frozen=True, slots=True)
class Refused:
    """The record can never be accepted (our rules or the API's); it is to be dead-lettered."""

    reason: str


@dataclass(frozen=True, slots=True)
class DeadLettered:
    """The record is in the DLQ with its reason."""

    reason: str
    status: ClassVar[str] = "dead_lettered"


@dataclass(frozen=True, slots=True)
class Failed:
    """Not delivered now; SQS delivers the record again (after `retry_after` seconds if known)."""

    reason: str
    retry_after: float | None = None
    status: ClassVar[str] = "failed"


@dataclass(frozen=True, slots=True)
class Skipped:
    """A producer's event that its mapping does not count as a conversion: not sent, not failed."""

    reason: str
    status: ClassVar[str] = "skipped"


# What the send loop learns about a batch, and where a record ends once the DLQ has answered.
type Result = Delivered | Refused | Failed | Skipped
type Outcome = Delivered | DeadLettered | Failed | Skipped
OUTCOMES: Final = (Delivered, DeadLettered, Failed, Skipped)
DELIVERED: Final = Delivered()
NOT_SETTLED: Final = Failed("no outcome (the invocation failed)")


def response(message_ids: Sequence[str], outcomes: Mapping[str, Outcome]) -> dict[str, list[dict[str, str]]]:
    """Lambda's partial-batch response; a record without an outcome is reported failed, never lost."""
    return {
        "batchItemFailures": [
            {"itemIdentifier": message_id}
            for message_id in message_ids
            if isinstance(outcomes.get(message_id, NOT_SETTLED), Failed)
        ]
    }


def retry_delay(receive_count: int, retry_after: float | None, rng: random.Random) -> int:
    """Seconds until a failed record is visible again: jittered backoff, or the API's Retry-After.

    The jitter applies below the cap too, so records that failed together come back spread out
    rather than all at once when an outage ends.
    """
    backoff = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** min(max(receive_count - 1, 0), 16))
    seconds = rng.uniform(backoff / 2, backoff)  # equal jitter: never sooner than half the backoff
    return int(min(MAX_VISIBILITY_SECONDS, max(seconds, retry_after or 0)))


def last_chance(receive_count: int, max_receives: int | None, age: float | None, delay: int) -> str | None:
    """Why a failed record goes to the DLQ now rather than back to SQS (None: back to SQS).

    On its last receive SQS would move it without a reason; past MAX_RETRY_SECONDS it could
    outlive the queue's retention. Either way the function dead-letters it itself, with the reason.
    """
    if max_receives and receive_count >= max_receives:
        return f"not delivered in {receive_count} receives"
    if age is not None and age + delay > MAX_RETRY_SECONDS:
        return f"not delivered in {MAX_RETRY_SECONDS // 86400} days"
    return None


def reason(outcome: Outcome) -> str | None:
    match outcome:
        case Delivered():
            return None
        case DeadLettered(reason) | Failed(reason) | Skipped(reason):
            return reason
        case _:
            assert_never(outcome)


def describe(outcome: Outcome) -> str:
    """One string: "delivered", or the status and the reason ("dead_lettered: email: must be …")."""
    why = reason(outcome)
    return outcome.status if why is None else clip(f"{outcome.status}: {why}")


def summary(outcomes: Iterable[Outcome], top: int = 10) -> dict[str, object]:
    """Counts per outcome and the most common reasons (no PII, each clipped) for the log line."""
    outcomes = list(outcomes)
    counts = Counter(o.status for o in outcomes)
    reasons = Counter(describe(o) for o in outcomes if reason(o))
    return {
        **{kind.status: counts[kind.status] for kind in OUTCOMES},
        "reasons": dict(reasons.most_common(top)),
    }
