"""boto3 client settings for the adapters (secret.py, sqs.py, producers.py): every call bounded, one attempt.

botocore's timeouts bound each socket operation, and a retry repeats them: a call's worst case is
attempts x (connect + read). With one attempt that is CALL_SECONDS at most, so an adapter starts a
call only with that much time left before the deadline. A call that fails is not retried here: a DLQ
send fails its record (SQS delivers it again), a failed visibility change falls back to the queue's
timeout, a failed secret read fails the records until the next invocation.

boto3 is imported only when a client is made: an invocation that needs no AWS call (the secret read
through the Lambda extension, everything delivered) never pays for its import.
"""

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.config import Config

# connect + read of the one attempt, and a little for DNS and TLS.
CALL_SECONDS = 3.5


@cache
def client_config() -> "Config":
    from botocore.config import Config  # noqa: PLC0415 - deferred: see the module docstring

    # "total_max_attempts" counts the first attempt ("max_attempts" would count retries only), and the
    # whole retries dict is given: botocore does not merge it with another config's.
    return Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 1})


def client(service: str) -> Any:
    """A new boto3 client with the standard endpoint and credential settings and client_config()."""
    import boto3  # noqa: PLC0415 - deferred: see the module docstring

    # boto3's default session is not thread-safe: a session of its own for each client.
    return boto3.session.Session().client(service, config=client_config())  # type: ignore[call-overload]
