"""The Event API's documented limits, in one place for the forwarder and the sandbox.

Each with its public source in docs/event-api.md (Limits).
"""

from typing import Final

MAX_REQUEST_BYTES: Final = 256 * 1024
MAX_BATCH_BYTES: Final = 128 * 1024
MAX_BATCHES_PER_REQUEST: Final = 100
RATE_LIMIT: Final = 270  # batches per second, per account
MAX_NAME_LENGTH: Final = 256
MAX_VALUE_LENGTH: Final = 4096
MAX_ATTRIBUTES_PER_EVENT: Final = 100
MAX_USER_ATTRIBUTES: Final = 100
MAX_EVENT_AGE_MS: Final = 30 * 24 * 3600 * 1000
# A timestamp this far ahead of our clock is still accepted: clocks of producers drift.
MAX_CLOCK_SKEW_MS: Final = 5 * 60 * 1000
ENVIRONMENTS: Final = frozenset({"development", "production"})
PODS: Final = ("us1", "us2", "eu1", "au1")
