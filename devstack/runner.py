"""An in-process replica of Lambda's SQS event source mapping, partial batch responses included.

moto's own mapping ignores batchItemFailures and needs Docker. This one receives with the real queue
attributes, invokes the handler with Lambda's event and context shapes, and deletes exactly what Lambda
would, so retries, visibility timeouts and redrive to the DLQ (moto's) behave as deployed.
"""

import base64
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

from devstack.context import LocalContext
from devstack.service import Service
from devstack.template import StackSettings
from ops.queues import MAX_MESSAGES_PER_CALL, delete_messages
from rokt_forwarder.ports import Handler

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueOutputTypeDef, MessageTypeDef

logger = logging.getLogger(__name__)


# Long-poll length while idle; it is also how long stop() may wait for a poller.
POLL_WAIT_SECONDS = 1


class InvalidBatchResponse(ValueError):
    """A response Lambda reads as "the whole batch failed"; the message says why."""


@dataclass(frozen=True, slots=True)
class MappingStats:
    """Counters of one mapping; receive_counts maps N to the records received for the Nth time."""

    invocations: int = 0
    records_received: int = 0
    records_deleted: int = 0
    records_reported_failed: int = 0
    batches_failed: int = 0
    receive_counts: Mapping[int, int] = field(default_factory=dict)

    @property
    def records_retried(self) -> int:
        return sum(count for receive, count in self.receive_counts.items() if receive > 1)

    def add(self, receives: Sequence[int], deleted: int, reported_failed: int, batch_failed: bool) -> Self:
        """The stats after one more invocation; receives holds each record's ApproximateReceiveCount."""
        counts = Counter(self.receive_counts)
        counts.update(receives)
        return replace(
            self,
            invocations=self.invocations + 1,
            records_received=self.records_received + len(receives),
            records_deleted=self.records_deleted + deleted,
            records_reported_failed=self.records_reported_failed + reported_failed,
            batches_failed=self.batches_failed + batch_failed,
            receive_counts=dict(sorted(counts.items())),
        )


class EventSourceMapping(Service):
    """Pollers that feed a handler from a queue as Lambda's SQS trigger with ReportBatchItemFailures does.

    Each poller stands for one execution environment: it gets a container of its own from
    `containers` (devstack.function.containers: a fresh cold start each call), so per-container state
    such as the pacer or the secret cache is not shared between them, as in Lambda.
    """

    def __init__(
        self,
        sqs: "SQSClient",
        queue_url: str,
        queue_arn: str,
        containers: Callable[[], Handler],
        *,
        batch_size: int,
        batching_window_seconds: int,
        max_concurrency: int,
        function_timeout_seconds: int,
        memory_limit_in_mb: int = 128,
        function_name: str = "ForwarderFunction",
        region: str,
    ) -> None:
        if batch_size < 1 or max_concurrency < 1:
            raise ValueError("batch_size and max_concurrency must be at least 1")
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._containers = containers
        self._batch_size = batch_size
        self._window = batching_window_seconds
        self._concurrency = max_concurrency
        self._timeout = function_timeout_seconds
        self._memory = str(memory_limit_in_mb)
        self._function_name = function_name
        self._region = region
        account = queue_arn.split(":")[4]
        self._function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stats = MappingStats()

    @classmethod
    def from_settings(
        cls,
        sqs: "SQSClient",
        queue_url: str,
        queue_arn: str,
        containers: Callable[[], Handler],
        settings: StackSettings,
        *,
        region: str,
        function_name: str = "ForwarderFunction",
    ) -> Self:
        return cls(
            sqs,
            queue_url,
            queue_arn,
            containers,
            batch_size=settings.batch_size,
            batching_window_seconds=settings.batching_window_seconds,
            max_concurrency=settings.max_concurrency,
            function_timeout_seconds=settings.function_timeout_seconds,
            memory_limit_in_mb=settings.function_memory_mb,
            function_name=function_name,
            region=region,
        )

    @property
    def stats(self) -> MappingStats:
        with self._lock:
            return self._stats

    def start(self) -> None:
        if self._threads:
            raise RuntimeError("already started")
        self._stopping.clear()
        # Made here, one after the other: a cold start imports, which threads must not do at once.
        handlers = [self._containers() for _ in range(self._concurrency)]
        self._threads = [
            threading.Thread(
                target=self._poll, args=(handler,), name=f"{self._function_name}-poller-{index}", daemon=True
            )
            for index, handler in enumerate(handlers)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Let each poller finish its receive and invocation, as Lambda does when a mapping is disabled."""
        self._stopping.set()
        for thread in self._threads:
            thread.join()
        self._threads = []

    def _poll(self, handler: Handler) -> None:
        # Each poller stands for one execution environment, so it keeps one log stream.
        log_stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        while not self._stopping.is_set():
            try:
                batch = self._gather()
                if batch:
                    self._invoke(handler, batch, log_stream)
            except Exception:
                # Lambda's pollers outlive any error (SQS's or a malformed message's); a poller that
                # died here would silently cut the concurrency. Pause so a lasting fault cannot spin.
                logger.exception("polling %s failed", self._queue_url)
                self._stopping.wait(POLL_WAIT_SECONDS)

    def _gather(self) -> list["MessageTypeDef"]:
        """Fill a batch until it is full or the batching window, opened by its first record, closes."""
        batch: list[MessageTypeDef] = []
        closes: float | None = None
        while len(batch) < self._batch_size and not self._stopping.is_set():
            left = None if closes is None else closes - time.monotonic()
            if left is not None and left <= 0:
                break
            wait = POLL_WAIT_SECONDS if left is None else min(POLL_WAIT_SECONDS, int(left))
            messages = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=min(MAX_MESSAGES_PER_CALL, self._batch_size - len(batch)),
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if messages and closes is None:
                closes = time.monotonic() + self._window
            elif not messages and left is not None and wait == 0:
                break  # under a second of window left and the queue is dry: send what we have
            batch.extend(messages)
        return batch

    def _invoke(self, handler: Handler, batch: Sequence["MessageTypeDef"], log_stream: str) -> None:
        context = LocalContext(
            function_name=self._function_name,
            invoked_function_arn=self._function_arn,
            memory_limit_in_mb=self._memory,
            log_stream_name=log_stream,
            deadline=time.monotonic() + self._timeout,
        )
        event = {"Records": [sqs_record(message, self._queue_arn, self._region) for message in batch]}
        failed = self._failed_ids(handler, event, context)
        deleted = 0
        if failed is not None:
            handles = (message["ReceiptHandle"] for message in batch if message["MessageId"] not in failed)
            deleted = len(delete_messages(self._sqs, self._queue_url, handles))
        receives = [int(message["Attributes"]["ApproximateReceiveCount"]) for message in batch]
        with self._lock:
            self._stats = self._stats.add(receives, deleted, len(failed or ()), failed is None)

    def _failed_ids(
        self, handler: Handler, event: dict[str, Any], context: LocalContext
    ) -> frozenset[str] | None:
        """Run the handler; None where Lambda would fail (and so retry) the whole batch."""
        request, size = context.aws_request_id, len(event["Records"])
        try:
            response = handler(event, context)
        except Exception:
            logger.exception("%s: the handler raised: the whole batch of %d fails", request, size)
            return None
        if context.get_remaining_time_in_millis() == 0:
            logger.error("%s: timed out (%d s): the whole batch of %d fails", request, self._timeout, size)
            return None
        try:
            return failed_message_ids(response, [record["messageId"] for record in event["Records"]])
        except InvalidBatchResponse as error:
            logger.error("%s: the whole batch of %d fails: %s", request, size, error)
            return None


def failed_message_ids(response: Any, batch_ids: Collection[str]) -> frozenset[str]:
    """The ids a partial batch response reports failed; raises where Lambda would fail the whole batch."""
    if response is None or response == {}:
        return frozenset()
    if not isinstance(response, dict) or "batchItemFailures" not in response:
        raise InvalidBatchResponse(f"not a partial batch response: {response!r:.200}")
    failures = response["batchItemFailures"] or []
    if not isinstance(failures, list):
        raise InvalidBatchResponse(f"batchItemFailures is not a list: {failures!r:.200}")
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in batch_ids:
            raise InvalidBatchResponse(f"{failure!r:.200} does not name a message of this batch")
        failed.add(identifier)
    return frozenset(failed)


def sqs_record(message: "MessageTypeDef", queue_arn: str, region: str) -> dict[str, Any]:
    """Lambda's record for a received message: camelCase keys, binary values base64-encoded."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _message_attribute(value: "MessageAttributeValueOutputTypeDef") -> dict[str, Any]:
    attribute: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [_b64(item) for item in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = _b64(value["BinaryValue"])
    return attribute


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
