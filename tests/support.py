"""Run the real Lambda entry point in-process against the embedded stack (moto server + sandbox)."""

import json
import logging
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import pytest
from literals import ROOT

from devstack.context import LocalContext
from devstack.embedded_aws import EmbeddedAws
from devstack.function import SERVICE_NAME, cold_start
from devstack.runner import sqs_record
from devstack.sandbox import Sandbox, SandboxConfig
from rokt_forwarder.batch import prepare
from rokt_forwarder.ports import Handler

API_KEY, API_SECRET = "test-key", "test-secret"


def lambda_handler(env: dict[str, str]) -> AbstractContextManager[Handler]:
    return cold_start(ROOT, env)


def send(aws: EmbeddedAws, bodies: Sequence[str | dict[str, Any]]) -> list[str]:
    client = aws.client("sqs")
    return [
        client.send_message(QueueUrl=aws.queue_url, MessageBody=b if isinstance(b, str) else json.dumps(b))[
            "MessageId"
        ]
        for b in bodies
    ]


def request_id_of(body: str | dict[str, Any], environment: str = "development") -> str:
    """The source_request_id of the batch the forwarder makes of `body`: how a test finds it in the API.

    It comes from the conversion, not from the SQS message (docs/event-api.md, "Deduplication ids").
    """
    text = body if isinstance(body, str) else json.dumps(body)
    batch = prepare(text, environment=environment, hash_pii=False, now_ms=time.time_ns() // 1_000_000)
    return str(json.loads(batch)["source_request_id"])


def receive_event(aws: EmbeddedAws, count: int) -> dict[str, Any]:
    """The SQS event Lambda would build from the next `count` messages (real receipt handles)."""
    client = aws.client("sqs")
    messages: list[Any] = []
    while len(messages) < count:
        messages += client.receive_message(
            QueueUrl=aws.queue_url,
            MaxNumberOfMessages=min(10, count - len(messages)),
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=1,
        ).get("Messages", [])
    return {"Records": [sqs_record(m, aws.queue_arn, aws.region) for m in messages]}


@dataclass(frozen=True)
class Invoked:
    failed: set[str]  # the message ids of batchItemFailures
    seconds_left: float  # before Lambda's deadline when the handler returned (negative: it overran)


def invoke_timed(handler: Handler, event: dict[str, Any], timeout_seconds: float = 30) -> Invoked:
    """Invoke with a context whose deadline is `timeout_seconds` away, as Lambda's is."""
    context = LocalContext.lasting(timeout_seconds)
    response = handler(event, context)
    failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    return Invoked(failed, context.deadline - time.monotonic())


def invoke(handler: Handler, event: dict[str, Any], timeout_seconds: float = 30) -> set[str]:
    """The message ids the handler reported failed."""
    return invoke_timed(handler, event, timeout_seconds).failed


def dead_letters(aws: EmbeddedAws) -> dict[str, dict[str, str]]:
    """source_message_id → {body, reason, source_queue} of everything in the DLQ (which is emptied)."""
    letters = {}
    for message in aws.drain_dlq():
        attributes = {k: v.get("StringValue", "") for k, v in message.get("MessageAttributes", {}).items()}
        letters[attributes.get("source_message_id", message["MessageId"])] = {
            "body": message["Body"],
            **attributes,
        }
    return letters


def log_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Each captured record as the function's Powertools logger writes it: one JSON line."""
    handlers = logging.getLogger(SERVICE_NAME).handlers
    formatter = next(handler.formatter for handler in handlers if handler.formatter is not None)
    return [formatter.format(record) for record in caplog.records]


@dataclass(frozen=True)
class Invocation:
    """One invocation of the real handler on messages sent through the queue."""

    ids: list[str]  # the messages' SQS ids, in the order of the bodies
    failed: set[str]  # the ids the handler reported in batchItemFailures
    sandbox: Sandbox  # the Event API it sent to (stopped), with what it received


def send_and_invoke(
    aws: EmbeddedAws,
    bodies: list[Any],
    *,
    timeout: float = 30,
    env: dict[str, str] | None = None,
    **sandbox_config: Any,
) -> Invocation:
    """Send bodies through the queue, then invoke a cold-started handler once on all of them."""
    ids = send(aws, bodies)
    config = SandboxConfig(**{"api_key": API_KEY, "api_secret": API_SECRET, "seed": 3, **sandbox_config})
    with (
        Sandbox(config) as sandbox,
        lambda_handler({**aws.environment(), "ROKT_API_URL": sandbox.url, **(env or {})}) as handler,
    ):
        failed = invoke(handler, receive_event(aws, len(ids)), timeout)
    return Invocation(ids, failed, sandbox)
