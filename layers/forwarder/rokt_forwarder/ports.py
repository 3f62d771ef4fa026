"""The edges of the forwarder as interfaces: the pure core calls these, adapters implement them.

The one contract between the core and `adapters/`: `adapters/api.py` implements `Transport`,
`adapters/secret.py` a `SecretReader`, `adapters/sqs.py` `DeadLetterQueue` and `VisibilityTimeouts`
(with the dead-letter attributes named here), `adapters/metrics.py` `Publish`; tests pass fakes.
"""

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # types of the core that Publish reads
    from rokt_forwarder.outcome import Outcome
    from rokt_forwarder.record import Record

# Seconds left before Lambda stops the invocation; every wait at an edge is cut to it.
type TimeLeft = Callable[[], float]


class LambdaContext(Protocol):
    """What the invocation reads of Lambda's context object."""

    def get_remaining_time_in_millis(self) -> int: ...


# A Lambda handler of SQS events: app.lambda_handler, traced or not, and the local stack's containers.
type Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock; tests pass a fake one to run retries and deadlines without waiting."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True, slots=True)
class Response:
    """An Event API answer: status, body, and what its headers say about the rate limit."""

    status: int
    body: bytes = b""
    retry_after: float | None = None
    used_percent: float | None = None  # X-mp-rate-limit-percentage-used: the account's share in use
    limit_exceeded: str | None = None  # X-mp-rate-limit-exceeded of a 429: which limit (e.g. acceleration)


@dataclass(frozen=True, slots=True)
class Credentials:
    """The Event API key/secret; never printed."""

    api_key: str
    api_secret: str

    def __repr__(self) -> str:
        return "Credentials(api_key=***, api_secret=***)"


# Reads the key/secret: (refresh, seconds left) -> Credentials; raises CredentialsError or DeadlineError.
type SecretReader = Callable[[bool, float], Credentials]


class Transport(Protocol):
    """Posts request bodies to the Event API; raises TransportError when it may not have arrived."""

    def load_credentials(self, refresh: bool, time_left: float) -> None:
        """Have the credentials ready: load them if never loaded, or reload them if `refresh` (rotation).

        Raises CredentialsError, or DeadlineError when a read is needed and `time_left` is too short.
        """

    def post(self, path: str, body: bytes, timeout: float) -> Response:
        """The answer, within `timeout` seconds once connected (docs/architecture.md, "Time")."""
        ...


# The message attributes of every dead letter: why, and where it came from (ops/dlq/ reads them).
REASON, SOURCE_MESSAGE_ID, SOURCE_QUEUE = "reason", "source_message_id", "source_queue"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A refused record on its way to the DLQ: the original body, and why."""

    message_id: str
    body: str
    reason: str
    source_queue_arn: str
    group_id: str | None = None


@dataclass(frozen=True, slots=True)
class Delay:
    """When a failed record should be visible again on its queue."""

    message_id: str
    receipt_handle: str
    source_queue_arn: str
    seconds: int


class DeadLetterQueue(Protocol):
    def dead_letter(self, dlq_url: str, letters: Sequence[DeadLetter], time_left: TimeLeft) -> set[str]:
        """Send each letter with its reason; returns the message ids that could NOT be sent."""
        ...


class VisibilityTimeouts(Protocol):
    def delay(self, delays: Sequence[Delay], time_left: TimeLeft) -> None:
        """Best effort: a record not delayed comes back after the queue's visibility timeout."""
        ...


@dataclass(slots=True)
class DeliveryStats:
    """What one invocation's sending took (delivery.py keeps it): for the log line and the metrics."""

    requests: int = 0
    retries: int = 0
    splits: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    api_seconds: float = 0.0  # time spent in requests, answered or not
    waited_seconds: float = 0.0  # time spent waiting before a retry
    paced_seconds: float = 0.0  # time spent waiting for a share of the account's rate limit
    # Why sending stopped for want of credentials (unreadable secret, or 401/403 after the re-read):
    # names the secret or the status, never a value. None while the credentials work.
    credentials_failure: str | None = None
    api_down: bool = False  # sending stopped early: the API counts as down (outage.py)
    # The failure that made the API count as down, when it was one of this invocation's: the
    # container's outage began here, and the invocation logs it once, at WARNING.
    outage_began: str | None = None

    @property
    def throttled(self) -> int:
        return self.by_status.get("429", 0)


# Writes one invocation's metrics (records, their outcomes, what sending took, now in ms); never raises.
type Publish = Callable[[Sequence["Record"], Iterable["Outcome"], DeliveryStats, int], None]
