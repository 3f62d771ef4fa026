"""Every error the forwarder raises, in one hierarchy, each named once (as urllib3's exceptions.py).

    ForwarderError
    ├── ConfigError       a setting is missing or malformed: the cold start fails, naming the variable
    ├── RefusedError      a record can never be accepted: it is dead-lettered with `reason`
    ├── SkippedError      a record is not a conversion (its mapping says so): it is neither sent nor failed
    ├── TransportError    a request may not have reached the API: it is retried
    ├── CredentialsError  the key/secret cannot be read: no record can be sent until it can
    └── DeadlineError     too little time is left for a call to finish: it is not started

Messages never hold a record's values or the secret: they are logged and become dead-letter reasons.
"""


class ForwarderError(Exception):
    """Base of every error raised by rokt_forwarder."""


class ConfigError(ForwarderError, ValueError):
    """A missing or malformed environment variable; the message names it."""


class RefusedError(ForwarderError, ValueError):
    """The record breaks a rule and can never be accepted as it is; `reason` says which (no PII)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SkippedError(ForwarderError):
    """A producer's event that its mapping does not count as a conversion (another topic or event type).

    Not a fault of the record, so not a dead letter: it ends as skipped, with `reason` (no PII).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransportError(ForwarderError):
    """The request may not have reached the API: connection refused or reset, timeout, TLS.

    `answered_late`: connected, but no complete answer in time (a slow API rather than a dead one).
    """

    def __init__(self, message: str, *, answered_late: bool = False) -> None:
        super().__init__(message)
        self.answered_late = answered_late


class CredentialsError(ForwarderError):
    """The Event API key/secret could not be read; the message names the secret, never its value."""


class DeadlineError(ForwarderError):
    """Too little time is left before Lambda's deadline for a call to finish, so it was not started."""
