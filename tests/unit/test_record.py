"""record.Record: the fields of Lambda's SQS record the forwarder reads, and what is not a record."""

import pytest

from rokt_forwarder.record import TRACE_ATTRIBUTE, Record

RAW = {
    "messageId": "m-1",
    "receiptHandle": "h-1",
    "body": '{"customerid": "c"}',
    "attributes": {"ApproximateReceiveCount": "3", "SentTimestamp": "1767225600000", "MessageGroupId": "g"},
    "messageAttributes": {TRACE_ATTRIBUTE: {"stringValue": "t", "dataType": "String"}},
    "eventSource": "aws:sqs",
    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q.fifo",
}


def test_every_field_the_forwarder_reads() -> None:
    assert Record.of(RAW) == Record(
        message_id="m-1",
        body='{"customerid": "c"}',
        receipt_handle="h-1",
        queue_arn="arn:aws:sqs:us-east-1:123456789012:q.fifo",
        group_id="g",
        receive_count=3,
        sent_ms=1_767_225_600_000,
        traced=True,
    )


def test_attributes_a_hand_made_event_leaves_out_have_their_defaults() -> None:
    bare = {key: RAW[key] for key in ("messageId", "receiptHandle", "body", "eventSourceARN")}
    record = Record.of(bare)
    assert (record.group_id, record.receive_count, record.sent_ms, record.traced) == (None, 1, None, False)


@pytest.mark.parametrize("missing", ["messageId", "body", "receiptHandle", "eventSourceARN"])
def test_what_is_not_an_sqs_record_raises(missing: str) -> None:
    with pytest.raises(KeyError):
        Record.of({key: value for key, value in RAW.items() if key != missing})
