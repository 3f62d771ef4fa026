"""The local event source mapping must treat a handler exactly as Lambda's SQS trigger would.

Runs against EmbeddedAws (moto over HTTP) with stand-in handlers: the mapping is under test, not the
forwarder. Visibility timeouts are cut to 1 s so retries and redrive happen within the test.
"""

import base64
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from typing import Any

import pytest

from devstack.embedded_aws import EmbeddedAws
from devstack.runner import EventSourceMapping, InvalidBatchResponse, failed_message_ids
from devstack.template import StackSettings
from ops.queues import drain, queue_depth, wait_until_drained

SETTINGS = StackSettings(
    queue_visibility_timeout=1,
    queue_retention_seconds=600,
    dlq_retention_seconds=600,
    max_receive_count=2,
    function_timeout_seconds=5,
    function_memory_mb=256,
    batch_size=10,
    batching_window_seconds=0,
    max_concurrency=2,
    fifo=False,
)
SUCCESS: dict[str, Any] = {"batchItemFailures": []}


@dataclass
class Invocation:
    event: dict[str, Any]
    context: Any
    started: float
    ended: float = 0.0

    @property
    def bodies(self) -> list[str]:
        return [record["body"] for record in self.event["Records"]]

    @property
    def groups(self) -> set[str]:
        return {record["attributes"]["MessageGroupId"] for record in self.event["Records"]}


@dataclass
class Recorder:
    """A stand-in Lambda handler: records each invocation, then answers with respond(records)."""

    respond: Callable[[list[dict[str, Any]]], Any]
    invocations: list[Invocation] = field(default_factory=list)
    invoked: threading.Event = field(default_factory=threading.Event)

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        invocation = Invocation(event, context, time.monotonic())
        self.invocations.append(invocation)
        self.invoked.set()
        try:
            return self.respond(event["Records"])
        finally:
            invocation.ended = time.monotonic()

    def records(self, body: str) -> list[dict[str, Any]]:
        return [record for i in self.invocations for record in i.event["Records"] if record["body"] == body]

    def receive_counts(self, body: str) -> list[str]:
        return [record["attributes"]["ApproximateReceiveCount"] for record in self.records(body)]


def fail_records(predicate: Callable[[dict[str, Any]], bool]) -> Callable[[list[dict[str, Any]]], Any]:
    def respond(records: list[dict[str, Any]]) -> Any:
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if predicate(r)]}

    return respond


@pytest.fixture
def aws(request: pytest.FixtureRequest) -> Iterator[EmbeddedAws]:
    with EmbeddedAws(getattr(request, "param", SETTINGS), api_key="key", api_secret="secret") as stack:
        yield stack


def mapping(aws: EmbeddedAws, handler: Recorder, **changes: Any) -> EventSourceMapping:
    settings = replace(aws.settings, **changes)
    sqs = aws.client("sqs")
    # Every container is the same recorder: these tests are about what the mapping does with answers.
    return EventSourceMapping.from_settings(
        sqs, aws.queue_url, aws.queue_arn, lambda: handler, settings, region=aws.region
    )


def send(aws: EmbeddedAws, bodies: Sequence[str], **extra: Any) -> list[str]:
    sqs = aws.client("sqs")
    return [
        sqs.send_message(QueueUrl=aws.queue_url, MessageBody=body, **extra)["MessageId"] for body in bodies
    ]


def drained(aws: EmbeddedAws, timeout: float = 10) -> bool:
    return wait_until_drained(aws.client("sqs"), [aws.queue_url], timeout=timeout, settle=0.3)


def test_successful_records_are_deleted_until_the_mapping_stops(aws: EmbeddedAws) -> None:
    bodies = [f"ok-{n}" for n in range(25)]
    send(aws, bodies)
    handler = Recorder(lambda records: SUCCESS)

    with mapping(aws, handler) as esm:
        assert drained(aws)

    assert sorted(body for i in handler.invocations for body in i.bodies) == sorted(bodies)
    assert all(len(i.bodies) <= SETTINGS.batch_size for i in handler.invocations)
    stats = esm.stats
    assert (stats.records_received, stats.records_deleted, stats.batches_failed) == (25, 25, 0)
    assert stats.receive_counts == {1: 25}
    send(aws, ["after stop"])
    time.sleep(0.2)
    assert queue_depth(aws.client("sqs"), aws.queue_url) == 1
    assert esm.stats == stats


def test_reported_failure_returns_after_the_visibility_timeout(aws: EmbeddedAws) -> None:
    send(aws, ["flaky", "ok-1", "ok-2"])

    def first_try_of_flaky(record: dict[str, Any]) -> bool:
        return (record["body"], record["attributes"]["ApproximateReceiveCount"]) == ("flaky", "1")

    handler = Recorder(fail_records(first_try_of_flaky))

    with mapping(aws, handler) as esm:
        assert drained(aws)

    assert handler.receive_counts("flaky") == ["1", "2"]
    retried_after = [i.started for i in handler.invocations if "flaky" in i.bodies]
    assert retried_after[1] - retried_after[0] >= SETTINGS.queue_visibility_timeout - 0.1
    assert [len(handler.records(body)) for body in ("ok-1", "ok-2")] == [1, 1]
    stats = esm.stats
    assert (stats.records_reported_failed, stats.records_deleted, stats.records_retried) == (1, 3, 1)
    assert stats.receive_counts == {1: 3, 2: 1}
    assert aws.drain_dlq() == []


def test_always_failing_record_is_redriven_to_the_dlq(aws: EmbeddedAws) -> None:
    attributes = {"source": {"DataType": "String", "StringValue": "test"}}
    send(aws, ["poison"], MessageAttributes=attributes)
    send(aws, ["ok"])
    handler = Recorder(fail_records(lambda r: r["body"] == "poison"))

    with mapping(aws, handler) as esm:
        assert drained(aws)

    dead = aws.drain_dlq()
    assert [message["Body"] for message in dead] == ["poison"]
    assert dead[0]["MessageAttributes"] == attributes
    assert len(handler.records("poison")) == SETTINGS.max_receive_count
    assert esm.stats.records_reported_failed == SETTINGS.max_receive_count
    assert len(handler.records("ok")) == 1


class FirstReceiveFails:
    """An SQS client whose first receive raises something botocore never would."""

    def __init__(self, sqs: Any) -> None:
        self._sqs = sqs
        self.failed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def receive_message(self, **kwargs: Any) -> Any:
        if not self.failed:
            self.failed = True
            raise RuntimeError("not a botocore error")
        return self._sqs.receive_message(**kwargs)


def test_a_poller_outlives_an_unexpected_error(aws: EmbeddedAws, caplog: pytest.LogCaptureFixture) -> None:
    send(aws, ["ok"])
    handler = Recorder(lambda records: SUCCESS)
    flaky = FirstReceiveFails(aws.client("sqs"))
    settings = replace(aws.settings, max_concurrency=1)
    esm = EventSourceMapping.from_settings(
        flaky,  # type: ignore[arg-type]
        aws.queue_url,
        aws.queue_arn,
        lambda: handler,
        settings,
        region=aws.region,
    )

    with caplog.at_level(logging.ERROR, logger="devstack.runner"), esm:
        assert drained(aws)

    assert flaky.failed
    assert handler.receive_counts("ok") == ["1"]
    assert "not a botocore error" in caplog.text


def test_drain_takes_only_the_wanted_and_leaves_the_rest(aws: EmbeddedAws) -> None:
    sqs = aws.client("sqs")
    # Visibility 0: what is left comes straight back, which must not keep the drain going forever.
    shared = sqs.create_queue(QueueName="shared-dlq", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    tagged = {"source_message_id": {"DataType": "String", "StringValue": "ours-1"}}
    sqs.send_message(QueueUrl=shared, MessageBody="tagged", MessageAttributes=tagged)
    redriven = sqs.send_message(QueueUrl=shared, MessageBody="redriven")["MessageId"]
    sqs.send_message(QueueUrl=shared, MessageBody="someone else's")
    ours = {"ours-1", redriven}

    def wanted(message: Any) -> bool:
        attributes = message.get("MessageAttributes", {})
        return attributes.get("source_message_id", {}).get("StringValue", message["MessageId"]) in ours

    taken = drain(sqs, shared, wanted=wanted)

    assert sorted(message["Body"] for message in taken) == ["redriven", "tagged"]
    assert [message["Body"] for message in drain(sqs, shared)] == ["someone else's"]


def test_wait_until_drained_reports_depth_and_waits_while_busy(aws: EmbeddedAws) -> None:
    sqs = aws.client("sqs")
    send(aws, ["x"])
    ticks: list[int] = []
    assert not wait_until_drained(sqs, [aws.queue_url], timeout=0.3, interval=0.1, on_tick=ticks.append)
    assert ticks and set(ticks) == {1}

    sqs.receive_message(QueueUrl=aws.queue_url, VisibilityTimeout=30)
    assert queue_depth(sqs, aws.queue_url) == 1, "in flight still counts"
    assert queue_depth(sqs, aws.queue_url, visible_only=True) == 0
    sqs.purge_queue(QueueUrl=aws.queue_url)

    busy_until = time.monotonic() + 0.5
    assert wait_until_drained(
        sqs, [aws.queue_url], timeout=5, settle=0.1, interval=0.05, busy=lambda: time.monotonic() < busy_until
    )
    assert time.monotonic() >= busy_until + 0.1


def raise_error(records: list[dict[str, Any]]) -> Any:
    raise RuntimeError("boom")


def overrun_timeout(records: list[dict[str, Any]]) -> Any:
    time.sleep(1.1)
    return SUCCESS


# An unknown itemIdentifier takes the timeout's path; the response rules have their own tests below.
@pytest.mark.parametrize("first_response", [raise_error, overrun_timeout])
def test_invalid_first_invocation_fails_the_whole_batch(
    aws: EmbeddedAws, first_response: Callable[[list[dict[str, Any]]], Any]
) -> None:
    send(aws, ["a", "b", "c"])
    responses = iter([first_response])

    def respond(records: list[dict[str, Any]]) -> Any:
        return next(responses, lambda _: SUCCESS)(records)

    handler = Recorder(respond)

    with mapping(aws, handler, max_concurrency=1, function_timeout_seconds=1) as esm:
        assert drained(aws)

    failed_batch = handler.invocations[0].bodies
    assert failed_batch
    for body in failed_batch:
        assert handler.receive_counts(body) == ["1", "2"]
    stats = esm.stats
    assert (stats.batches_failed, stats.records_deleted, stats.records_reported_failed) == (1, 3, 0)


def test_records_and_context_have_lambdas_shape(aws: EmbeddedAws) -> None:
    body = '{"event": "conversion"}'
    attributes = {
        "text": {"DataType": "String", "StringValue": "hello"},
        "count": {"DataType": "Number", "StringValue": "3"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }
    [message_id] = send(aws, [body], MessageAttributes=attributes)
    remaining: list[int] = []

    def respond(records: list[dict[str, Any]]) -> Any:
        context = handler.invocations[-1].context
        remaining.append(context.get_remaining_time_in_millis())
        time.sleep(0.05)
        remaining.append(context.get_remaining_time_in_millis())
        return None

    handler = Recorder(respond)
    with mapping(aws, handler):
        assert handler.invoked.wait(5)
        assert drained(aws)

    [record] = handler.invocations[0].event["Records"]
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "md5OfMessageAttributes",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert (record["messageId"], record["body"], record["eventSource"]) == (message_id, body, "aws:sqs")
    assert (record["eventSourceARN"], record["awsRegion"]) == (aws.queue_arn, "us-east-1")
    assert record["md5OfBody"] == hashlib.md5(body.encode()).hexdigest()
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"] == {
        "text": {
            "stringValue": "hello",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        },
        "count": {"stringValue": "3", "stringListValues": [], "binaryListValues": [], "dataType": "Number"},
        "blob": {
            "binaryValue": base64.b64encode(b"\x00\x01").decode(),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "Binary",
        },
    }

    context = handler.invocations[0].context
    assert 4500 < remaining[0] <= 5000
    assert remaining[1] <= remaining[0] - 40
    assert context.function_name == "ForwarderFunction"
    assert context.function_version == "$LATEST"
    assert context.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:ForwarderFunction"
    assert context.memory_limit_in_mb == "256"
    assert context.log_group_name == "/aws/lambda/ForwarderFunction"
    assert "[$LATEST]" in context.log_stream_name
    assert uuid.UUID(context.aws_request_id).version == 4


def test_batch_fills_up_within_the_batching_window(aws: EmbeddedAws) -> None:
    send(aws, [f"m-{n}" for n in range(25)])
    handler = Recorder(lambda records: SUCCESS)

    with mapping(aws, handler, batch_size=25, batching_window_seconds=1, max_concurrency=1):
        assert drained(aws)

    assert [len(i.bodies) for i in handler.invocations] == [25]


@pytest.mark.parametrize("aws", [replace(SETTINGS, fifo=True)], indirect=True)
def test_fifo_groups_stay_ordered_and_are_never_processed_concurrently(aws: EmbeddedAws) -> None:
    for group in ("A", "B"):
        for n in range(4):
            send(aws, [f"{group}{n}"], MessageGroupId=group, MessageDeduplicationId=f"{group}{n}")

    def respond(records: list[dict[str, Any]]) -> Any:
        time.sleep(0.1)
        return SUCCESS

    handler = Recorder(respond)
    with mapping(aws, handler, batch_size=2, max_concurrency=3):
        assert drained(aws)

    processed = [body for i in sorted(handler.invocations, key=lambda i: i.started) for body in i.bodies]
    for group in ("A", "B"):
        assert [body for body in processed if body.startswith(group)] == [f"{group}{n}" for n in range(4)]
    for first, second in combinations(sorted(handler.invocations, key=lambda i: i.started), 2):
        if first.groups & second.groups:
            assert first.ended <= second.started
    record = handler.invocations[0].event["Records"][0]
    assert {"MessageGroupId", "MessageDeduplicationId", "SequenceNumber"} <= set(record["attributes"])


@pytest.mark.parametrize(
    ("response", "failed"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "a"}]}, {"a"}),
        ({"batchItemFailures": [{"itemIdentifier": "b"}], "other": 1}, {"b"}),
    ],
)
def test_valid_partial_batch_responses(response: Any, failed: set[str]) -> None:
    assert failed_message_ids(response, ["a", "b"]) == failed


@pytest.mark.parametrize(
    "response",
    [
        "OK",
        [],
        {"batchitemfailures": []},
        {"batchItemFailures": "a"},
        {"batchItemFailures": ["a"]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"id": "a"}]},
        {"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "c"}]},
    ],
)
def test_responses_that_fail_the_whole_batch(response: Any) -> None:
    with pytest.raises(InvalidBatchResponse):
        failed_message_ids(response, ["a", "b"])


def test_each_poller_runs_a_container_of_its_own(aws: EmbeddedAws) -> None:
    made: list[Recorder] = []

    def new_container() -> Recorder:
        made.append(Recorder(lambda records: SUCCESS))
        return made[-1]

    settings = replace(aws.settings, max_concurrency=3)
    esm = EventSourceMapping.from_settings(
        aws.client("sqs"), aws.queue_url, aws.queue_arn, new_container, settings, region=aws.region
    )
    with esm:
        assert len(made) == 3, "one cold start per concurrent execution environment"
