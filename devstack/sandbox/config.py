"""How the sandbox behaves: one frozen value, checked when made, so a wrong fault mix fails at start."""

from dataclasses import dataclass
from pathlib import Path

from devstack.ratelimit import Usage
from rokt_forwarder import limits


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """Every fault is off by default, so the sandbox starts as a well-behaved API."""

    api_key: str = "sandbox-key"
    api_secret: str = "sandbox-secret"  # noqa: S105 - a published test credential, not a secret
    host: str = "127.0.0.1"
    port: int = 0
    rate: float = limits.RATE_LIMIT
    # How the rate limit behaves where the API does not say (devstack/ratelimit.py): what the usage
    # header reports, the burst the limiter holds, the acceleration limit, and another sender's share.
    usage: Usage = Usage.WINDOW
    burst: float = 1.0
    acceleration: float = 0.0
    other_share: float = 0.0
    p503: float = 0.0
    p500: float = 0.0
    p429: float = 0.0
    p_reset: float = 0.0
    p_reset_after_accept: float = 0.0
    latency: float = 0.0
    p_slow: float = 0.0
    slow_seconds: float = 5.0
    outages: tuple[tuple[float, float], ...] = ()
    seed: int | None = None
    record_path: Path | None = None
    log_requests: bool = False

    def __post_init__(self) -> None:
        chances = (self.p503, self.p500, self.p429, self.p_reset, self.p_reset_after_accept, self.p_slow)
        if not all(0 <= p <= 1 for p in chances):
            raise ValueError("fault probabilities must be between 0 and 1")
        if self.p503 + self.p500 + self.p429 + self.p_reset > 1:
            raise ValueError("p503 + p500 + p429 + p_reset must not exceed 1 (one fault per request)")
        if min(self.rate, self.latency, self.slow_seconds, self.acceleration) < 0 or self.burst <= 0:
            raise ValueError(
                "rate, latency, slow_seconds and acceleration must not be negative, burst positive"
            )
        if not 0 <= self.other_share < 1:
            raise ValueError("other_share must be at least 0 and less than 1")
        if not all(0 <= start < end for start, end in self.outages):
            raise ValueError("an outage needs 0 <= START < END")
