"""boto3 client settings for the adapters (secret.py, sqs.py): every call bounded, one attempt.

botocore's timeouts bound each socket operation, and a retry repeats them: a call's worst case is
attempts x (connect + read). With one attempt that is CALL_SECONDS at most, so an adapter starts a
call only with that much time left before the deadline. A call that fails is not retried here: a DLQ
send fails its record (SQS delivers it again), a failed visibility change falls back to the queue's
timeout, a failed secret read fails the records until the next invocation.
"""

from botocore.config import Config

# "total_max_attempts" counts the first attempt ("max_attempts" would count retries only), and the
# whole retries dict is given: botocore does not merge it with another config's.
CLIENT_CONFIG = Config(
    connect_timeout=1,
    read_timeout=2,
    retries={"mode": "standard", "total_max_attempts": 1},
)
# connect + read of the one attempt, and a little for DNS and TLS.
CALL_SECONDS = 3.5
