"""The queues' lifecycle on moto's CloudFormation, as docs/operations.md's "Upgrades" and "Delete the
stack" tell it: version N (before the queues were retained) upgraded to N+1 through make
deploy's change-set check, then deleted, then a new stack and the retained queue's messages moved in.

What moto cannot show is said where it matters: it runs no SAM transform, Lambda alias or CloudWatch
alarm (so the stack is the template's two queues alone), never replaces a queue on update, and gives
change sets no Replacement or PolicyAction (test_changeset.py covers those from recorded answers).
"""

import json

import pytest
from literals import STACK
from queue_stack import change_set, queue_template, queue_urls

from devstack.embedded_aws import EmbeddedAws
from ops import deploy, dlq
from ops.queues import queue_depth

pytestmark = pytest.mark.usefixtures("aws_env")  # for the DLQ tool's own clients


def deployed(aws: EmbeddedAws, template: dict[str, object]) -> int:
    cloudformation = aws.client("cloudformation")
    since = change_set(cloudformation, STACK, template)
    return deploy.apply(cloudformation, aws.client("sqs"), STACK, since, allowed=False, confirm=False)


def send(aws: EmbeddedAws, url: str, count: int) -> None:
    for n in range(count):
        aws.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps({"customerid": str(n)}))


def depth(aws: EmbeddedAws, url: str) -> int:
    return queue_depth(aws.client("sqs"), url)


def test_upgrading_from_n_to_n_plus_1_keeps_both_queues_and_their_messages(
    aws: EmbeddedAws, capsys: pytest.CaptureFixture[str]
) -> None:
    assert deployed(aws, queue_template(retained=False)) == 0
    before = queue_urls(aws.client("cloudformation"), STACK)
    send(aws, before["ConversionsQueue"], 5)
    send(aws, before["DeadLetterQueue"], 2)
    capsys.readouterr()
    # N+1 adds DeletionPolicy and UpdateReplacePolicy: attributes of the stack, no property of a queue.
    assert deployed(aws, queue_template()) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "  ok    no queue that holds messages is replaced or removed" in lines
    assert lines[-1] == f"Stack {STACK}: UPDATE_COMPLETE"
    assert queue_urls(aws.client("cloudformation"), STACK) == before, "the same queues"
    assert (depth(aws, before["ConversionsQueue"]), depth(aws, before["DeadLetterQueue"])) == (5, 2)


def test_deleting_the_stack_leaves_the_queues_and_a_new_stack_can_take_their_messages(
    aws: EmbeddedAws, capsys: pytest.CaptureFixture[str]
) -> None:
    assert deployed(aws, queue_template()) == 0
    old = queue_urls(aws.client("cloudformation"), STACK)
    assert old["ConversionsQueue"].rsplit("/", 1)[1].startswith(f"{STACK}-ConversionsQueue-"), "docs' name"
    send(aws, old["ConversionsQueue"], 4)
    send(aws, old["DeadLetterQueue"], 1)
    aws.client("cloudformation").delete_stack(StackName=STACK)
    assert (depth(aws, old["ConversionsQueue"]), depth(aws, old["DeadLetterQueue"])) == (4, 1), "retained"

    assert deployed(aws, queue_template()) == 0
    new = queue_urls(aws.client("cloudformation"), STACK)
    assert new["ConversionsQueue"] != old["ConversionsQueue"], "a new stack makes new queues"
    # docs/operations.md's command: every message without a reason, from the old queue into the new one.
    capsys.readouterr()
    argv = ["--dlq-url", old["ConversionsQueue"], "--queue-url", new["ConversionsQueue"]]
    assert dlq.main([*argv, "redrive", "--reason", dlq.SQS_REDRIVEN]) == 0
    assert (depth(aws, old["ConversionsQueue"]), depth(aws, new["ConversionsQueue"])) == (0, 4)
    # And the old queues deleted for good, once empty (docs/operations.md: Delete the stack, step 3).
    sqs = aws.client("sqs")
    sqs.delete_queue(QueueUrl=old["ConversionsQueue"])
    remaining = sqs.list_queues(QueueNamePrefix=f"{STACK}-ConversionsQueue-").get("QueueUrls", [])
    assert [url.rsplit("/", 1)[1] for url in remaining] == [new["ConversionsQueue"].rsplit("/", 1)[1]]
