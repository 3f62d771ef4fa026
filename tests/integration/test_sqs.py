"""The SQS adapter against moto in server mode, every call checked against SQS's own limits (sqs_limits)."""

import json
from collections import Counter

from sqs_limits import Recorder

from devstack.embedded_aws import EmbeddedAws
from ops.queues import MAX_MESSAGES_PER_CALL, drain, queue_depth
from rokt_forwarder.adapters.sqs import MAX_ATTRIBUTE_CHARS, Sqs
from rokt_forwarder.ports import REASON, SOURCE_MESSAGE_ID, DeadLetter, Delay


def checked(aws: EmbeddedAws) -> tuple[Sqs, Recorder]:
    client = aws.client("sqs")
    limits = Recorder()
    client.meta.events.register("provide-client-params.sqs", limits.hook())
    return Sqs(client), limits


def test_twenty_five_letters_small_and_large_arrive_whole_in_calls_sqs_takes(aws: EmbeddedAws) -> None:
    adapter, limits = checked(aws)
    reason = "email: must be an email address; " * 40
    bodies = {f"m-{n}": json.dumps({"n": n, "pad": "é" * (40_000 if n in (0, 13) else n)}) for n in range(25)}
    letters = [DeadLetter(mid, body, reason, aws.queue_arn) for mid, body in bodies.items()]
    assert adapter.dead_letter(aws.dlq_url, letters) == set()
    assert limits.violations == []
    assert set(limits.operations()) == {"SendMessageBatch"}, "no batch refused, none sent one by one"
    arrived = drain(aws.client("sqs"), aws.dlq_url)
    assert Counter(m["Body"] for m in arrived) == Counter(bodies.values())
    for message in arrived:
        attributes = message["MessageAttributes"]
        assert bodies[attributes[SOURCE_MESSAGE_ID]["StringValue"]] == message["Body"]
        assert attributes[REASON]["StringValue"] == reason[:MAX_ATTRIBUTE_CHARS]


def test_twenty_five_failed_records_are_delayed_in_calls_sqs_takes(aws: EmbeddedAws) -> None:
    sqs = aws.client("sqs")
    for n in range(25):
        sqs.send_message(QueueUrl=aws.queue_url, MessageBody=json.dumps({"n": n}))
    received: dict[str, str] = {}  # message id → receipt handle
    while len(received) < 25:
        messages = sqs.receive_message(  # visible again at once, unless the adapter delays them
            QueueUrl=aws.queue_url, MaxNumberOfMessages=MAX_MESSAGES_PER_CALL, VisibilityTimeout=0
        )
        received.update({m["MessageId"]: m["ReceiptHandle"] for m in messages.get("Messages", [])})
    adapter, limits = checked(aws)
    adapter.delay([Delay(mid, handle, aws.queue_arn, 600) for mid, handle in received.items()])
    assert limits.violations == []
    assert limits.operations() == ["ChangeMessageVisibilityBatch"] * 3
    assert queue_depth(sqs, aws.queue_url, visible_only=True) == 0, "every one is held for 600 s"
