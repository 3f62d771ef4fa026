"""redrive's StartMessageMoveTask call, which moto lacks: botocore's Stubber plays SQS's part."""

from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from ops import dlq

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/rokt-conversions"
DLQ = QUEUE + "-dlq"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:rokt-conversions"
DLQ_ARN = QUEUE_ARN + "-dlq"


def test_redrive_of_everything_asks_sqs_to_move_them_naming_the_destination(tmp_path: Path) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(sqs) as stub:
        for url, arn in ((QUEUE, QUEUE_ARN), (DLQ, DLQ_ARN)):
            stub.add_response(
                "get_queue_attributes",
                {"Attributes": {"QueueArn": arn}},
                {"QueueUrl": url, "AttributeNames": ["QueueArn"]},
            )
        # Dead letters written with SendMessage have no source SQS knows of: DestinationArn is required.
        stub.add_response(
            "start_message_move_task",
            {"TaskHandle": "task-1"},
            {"SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN},
        )
        moved = dlq.redrive(sqs, dlq.Queues(QUEUE, DLQ), journal=dlq.Journal(tmp_path / "journal.json"))
        stub.assert_no_pending_responses()
    assert moved == dlq.Moved(task="task-1")


def test_a_refusal_other_than_unsupported_reaches_the_operator(tmp_path: Path) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(sqs) as stub:
        for arn in (QUEUE_ARN, DLQ_ARN):
            stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": arn}})
        stub.add_client_error("start_message_move_task", "AccessDenied", http_status_code=403)
        with pytest.raises(ClientError, match="AccessDenied"):
            dlq.redrive(sqs, dlq.Queues(QUEUE, DLQ), journal=dlq.Journal(tmp_path / "journal.json"))
