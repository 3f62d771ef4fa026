"""Whether the Event API is down, as this container has seen it: fail fast instead of retrying.

Retrying a dead API until each invocation's deadline costs a whole Lambda timeout per receive (and
holds every record for it). So after FAILURES_TO_OPEN transient failures in a row (5xx, 408, no
answer), the API counts as down: the invocation stops sending, and each later invocation sends one
small probe first, with a short timeout; if the probe fails its records fail at once, with the usual
backoff. Any answer that shows the API alive (2xx, 4xx, 429 included) ends the outage, so recovery
is seen within one invocation. Lives as long as the container; pure, its clock is the caller's.
"""

from dataclasses import dataclass

FAILURES_TO_OPEN = 3  # transient failures in a row that mean "down", not "unlucky"
PROBE_SECONDS = 2.5  # a probe's timeout: one batch, answered in well under a second when alive


@dataclass
class Outage:
    failures: int = 0  # transient failures in a row
    since: float | None = None  # when the API was first seen down, this time
    # The last probe connected but got no answer in time: the API may be slow, not down, so the
    # next probe waits the request's full timeout instead.
    probe_cut_short: bool = False

    @property
    def down(self) -> bool:
        return self.failures >= FAILURES_TO_OPEN

    def failed(self, now: float, *, answered_late: bool = False) -> bool:
        """Count a transient failure; True once per outage: when this one made the API count as down."""
        self.failures += 1
        self.probe_cut_short = answered_late
        if self.down and self.since is None:
            self.since = now
            return True
        return False

    def answered(self) -> None:
        self.failures = 0
        self.since = None
        self.probe_cut_short = False

    def probe_timeout(self, request_timeout: float) -> float:
        return request_timeout if self.probe_cut_short else min(PROBE_SECONDS, request_timeout)
