"""Lambda's context object for handlers run locally; stdlib only, so a cold-start measurement can use it."""

import time
import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LocalContext:
    """The context attributes handlers and Powertools read, with Lambda's deadline semantics."""

    function_name: str
    invoked_function_arn: str
    # A string in the real runtime (it comes from AWS_LAMBDA_FUNCTION_MEMORY_SIZE).
    memory_limit_in_mb: str
    log_stream_name: str
    deadline: float  # time.monotonic() at which Lambda would stop the invocation
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    client_context: None = None
    identity: None = None

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))

    @classmethod
    def lasting(cls, seconds: float, *, function_name: str = "ForwarderFunction") -> "LocalContext":
        """A context whose deadline is `seconds` from now, for one invocation outside a mapping."""
        return cls(
            function_name=function_name,
            invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}",
            memory_limit_in_mb="1024",
            log_stream_name="local",
            deadline=time.monotonic() + seconds,
        )
