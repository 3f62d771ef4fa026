"""AWS in-process: moto over real HTTP, holding the stack's queues and secret as the template defines them.

The Lambda code then runs unchanged against it, pointed there by the standard AWS_ENDPOINT_URL.
"""

import contextlib
import json
import logging
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from moto.core.utils import unix_time_millis
from moto.server import ThreadedMotoServer
from moto.sqs import models as moto_sqs

from devstack.service import Service, url_host
from devstack.template import StackSettings
from ops.queues import drain, queue_arn

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType
    from mypy_boto3_sqs.type_defs import MessageTypeDef

QUEUE_NAME = "rokt-conversions"
DLQ_NAME = "rokt-conversions-dlq"
SECRET_NAME = "rokt-event-api"  # noqa: S105 - the name, not the secret
REGION = "us-east-1"
# moto accepts any credentials; fixed dummies keep real ones from ever being sent.
CREDENTIALS = "testing"

type AwsService = Literal["sqs", "secretsmanager", "logs", "cloudformation"]
type AwsClient = "SQSClient | SecretsManagerClient | CloudWatchLogsClient | CloudFormationClient"


@contextlib.contextmanager
def _visibility_warp(scale: float, longest_invocation: int) -> Iterator[None]:
    """moto's SQS messages become visible again `scale` times sooner than ChangeMessageVisibility says.

    moto keeps visibility in milliseconds from its own clock and has no hook for this: its message
    class is patched for the life of the stack (the server runs in this process), and only that.
    """
    change, receive = moto_sqs.Message.change_visibility, moto_sqs.Message.mark_received

    def change_visibility(message: Any, visibility_timeout: int) -> None:
        message.visible_at = unix_time_millis() + int(visibility_timeout) * 1000 / scale

    def mark_received(message: Any, visibility_timeout: int | None = None) -> None:
        # Not a receive's own timeout, which covers an invocation running in real time; but no longer
        # than an invocation can run, so a receive moto fails halfway (it is not thread-safe) holds
        # its messages for seconds, not minutes.
        receive(message, visibility_timeout)
        if visibility_timeout:
            change(message, min(visibility_timeout, longest_invocation))

    moto_sqs.Message.change_visibility = change_visibility  # type: ignore[method-assign,assignment]
    moto_sqs.Message.mark_received = mark_received  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        moto_sqs.Message.change_visibility = change  # type: ignore[method-assign]
        moto_sqs.Message.mark_received = receive  # type: ignore[method-assign]


class EmbeddedAws(Service):
    """Context manager owning one moto server and the stack's resources on it."""

    def __init__(
        self,
        settings: StackSettings,
        api_key: str,
        api_secret: str,
        *,
        port: int = 0,
        region: str = REGION,
        host: str = "127.0.0.1",
        time_scale: float = 1.0,
    ) -> None:
        """`host` 0.0.0.0 lets Docker containers (sam local) reach it as host.docker.internal.

        `time_scale` > 1 makes SQS's visibility timeouts pass that many times faster (a 900 s retry
        delay lasts 900 / time_scale s), so a test can live through a day of retries in a minute
        with moto's own receive counts and redrive.
        """
        self.settings = settings
        self._time_scale = time_scale
        self._warp = contextlib.ExitStack()
        self.region = region
        self._api_credentials = {"api_key": api_key, "api_secret": api_secret}
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self._endpoint_url: str | None = None
        self._clients: dict[AwsService, AwsClient] = {}
        self.queue_url = self.queue_arn = self.dlq_url = self.dlq_arn = self.secret_arn = ""

    @property
    def endpoint_url(self) -> str:
        if self._endpoint_url is None:
            raise RuntimeError("EmbeddedAws is not started")
        return self._endpoint_url

    def start(self) -> None:
        # Werkzeug logs every request at INFO: one line per poll drowns everything else.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        if self._time_scale != 1.0:
            longest = self.settings.function_timeout_seconds + self.settings.batching_window_seconds + 1
            self._warp.enter_context(_visibility_warp(self._time_scale, longest))
        self._server.start()
        host, port = self._server.get_host_and_port()
        self._endpoint_url = f"http://{url_host(host)}:{port}"
        # moto's state is global to the process and outlives a server: start from a clean slate.
        reset = urllib.request.Request(f"{self._endpoint_url}/moto-api/reset", method="POST")  # noqa: S310
        urllib.request.urlopen(reset).close()  # noqa: S310 - our own loopback server
        self._create_queues()
        self.secret_arn = self.client("secretsmanager").create_secret(
            Name=SECRET_NAME, SecretString=json.dumps(self._api_credentials)
        )["ARN"]

    def stop(self) -> None:
        if self._endpoint_url is not None:
            self._server.stop()
            self._endpoint_url = None
            self._clients.clear()
        self._warp.close()

    @overload
    def client(self, service: Literal["sqs"]) -> "SQSClient": ...
    @overload
    def client(self, service: Literal["secretsmanager"]) -> "SecretsManagerClient": ...
    @overload
    def client(self, service: Literal["logs"]) -> "CloudWatchLogsClient": ...
    @overload
    def client(self, service: Literal["cloudformation"]) -> "CloudFormationClient": ...
    def client(self, service: AwsService) -> AwsClient:
        """Cached per service (start() makes sqs and secretsmanager): creating a client is slow and not
        thread-safe, so make any other one before threads share it."""
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service,
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id=CREDENTIALS,
                aws_secret_access_key=CREDENTIALS,
            )
        return self._clients[service]

    def environment(self) -> dict[str, str]:
        """What the Lambda code needs in os.environ to use this stack instead of AWS."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": CREDENTIALS,
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "ROKT_SECRET_ID": self.secret_arn,
            "DLQ_URL": self.dlq_url,
            "ROKT_MAX_RECEIVE_COUNT": str(self.settings.max_receive_count),
        }

    def drain_dlq(self) -> list["MessageTypeDef"]:
        return drain(self.client("sqs"), self.dlq_url)

    def _create_queues(self) -> None:
        settings = self.settings
        sqs = self.client("sqs")
        fifo: dict[QueueAttributeNameType, str] = {"FifoQueue": "true"} if settings.fifo else {}
        suffix = ".fifo" if settings.fifo else ""
        self.dlq_url = sqs.create_queue(
            QueueName=DLQ_NAME + suffix,
            Attributes={**fifo, "MessageRetentionPeriod": str(settings.dlq_retention_seconds)},
        )["QueueUrl"]
        self.dlq_arn = queue_arn(sqs, self.dlq_url)
        redrive = {"deadLetterTargetArn": self.dlq_arn, "maxReceiveCount": settings.max_receive_count}
        self.queue_url = sqs.create_queue(
            QueueName=QUEUE_NAME + suffix,
            Attributes={
                **fifo,
                "VisibilityTimeout": str(settings.queue_visibility_timeout),
                "MessageRetentionPeriod": str(settings.queue_retention_seconds),
                "RedrivePolicy": json.dumps(redrive),
            },
        )["QueueUrl"]
        self.queue_arn = queue_arn(sqs, self.queue_url)
