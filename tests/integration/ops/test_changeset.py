"""make deploy reads the change set before it runs it, and refuses one that would replace or remove a
queue that holds messages.

The recorded change sets (fixtures/changesets/*.json) are DescribeChangeSet answers written from the
CloudFormation API reference (Action, Replacement, PolicyAction, Details), not captured from an
account: moto's change sets carry Action only. The rest runs against moto's CloudFormation for real:
a stack of the template's two queues, a change set that removes one, the guard, the execution.
"""

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from literals import STACK
from queue_stack import change_set, queue_template, queue_urls, renamed
from support import ROOT

from devstack.embedded_aws import EmbeddedAws
from ops import changeset, deploy
from ops.queues import drain, queue_depth

FIXTURES = Path(__file__).parent / "fixtures" / "changesets"
Q = "https://sqs.eu-west-1.amazonaws.com/123456789012/rokt-event-forwarder-ConversionsQueue-Q1w2E3r4T5y6"
D = "https://sqs.eu-west-1.amazonaws.com/123456789012/rokt-event-forwarder-DeadLetterQueue-A1s2D3f4G5h6"
DRAIN = (
    "Drain the queue first (docs/operations.md#upgrades), or deploy anyway with "
    "ARGS=--allow-queue-replacement."
)


def recorded(name: str) -> list[Any]:
    changes: list[Any] = json.loads((FIXTURES / name).read_text())["Changes"]
    return changes


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("upgrade-in-place.json", []),
        (
            "fifo-replaces-both-queues.json",
            [
                changeset.QueueChange("DeadLetterQueue", D, "replace", retained=True),
                changeset.QueueChange("ConversionsQueue", Q, "replace", retained=True),
            ],
        ),
        (
            "rename-removes-queue-before-retain.json",
            [changeset.QueueChange("ConversionsQueue", Q, "remove", retained=False)],
        ),
        (
            "conditional-dead-letter-queue.json",
            [changeset.QueueChange("DeadLetterQueue", D, "possibly replace", retained=True)],
        ),
    ],
)
def test_the_queues_a_recorded_change_set_takes_out_of_the_stack(name: str, expected: list[Any]) -> None:
    assert changeset.queue_changes(recorded(name)) == expected


def test_a_replacement_of_queues_holding_messages_is_refused_in_one_line() -> None:
    depths = {Q: 1234, D: 1}
    line = changeset.verdict(
        changeset.queue_changes(recorded("fifo-replaces-both-queues.json")), depths.__getitem__, allowed=False
    )
    assert line == (
        "REFUSED: this change set would replace DeadLetterQueue (1 message, kept outside the stack, "
        "unconsumed) and replace ConversionsQueue (1234 messages, kept outside the stack, unconsumed). "
        + DRAIN
    )


def test_a_queue_deleted_with_its_messages_says_so() -> None:
    line = changeset.verdict(
        changeset.queue_changes(recorded("rename-removes-queue-before-retain.json")),
        {Q: 7}.__getitem__,
        allowed=False,
    )
    assert (
        line
        == f"REFUSED: this change set would remove ConversionsQueue (7 messages, deleted with it). {DRAIN}"
    )


def test_empty_queues_may_be_replaced_and_an_in_place_upgrade_passes() -> None:
    empty = {Q: 0, D: 0}.__getitem__
    for name in (
        "fifo-replaces-both-queues.json",
        "conditional-dead-letter-queue.json",
        "upgrade-in-place.json",
    ):
        assert changeset.verdict(changeset.queue_changes(recorded(name)), empty, allowed=False) is None, name


def test_only_the_queues_that_hold_messages_are_named() -> None:
    line = changeset.verdict(
        changeset.queue_changes(recorded("fifo-replaces-both-queues.json")),
        {Q: 0, D: 3}.__getitem__,
        allowed=False,
    )
    assert line is not None
    assert "DeadLetterQueue (3 messages" in line
    assert "ConversionsQueue" not in line


def test_a_depth_that_cannot_be_read_counts_as_messages() -> None:
    def denied(url: str) -> int:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetQueueAttributes")

    line = changeset.verdict(
        changeset.queue_changes(recorded("conditional-dead-letter-queue.json")), denied, allowed=False
    )
    assert line == (
        "REFUSED: this change set would possibly replace DeadLetterQueue (depth unknown: AccessDenied, "
        f"kept outside the stack, unconsumed). {DRAIN}"
    )


def test_the_flag_turns_the_refusal_into_a_warning() -> None:
    line = changeset.verdict(
        changeset.queue_changes(recorded("rename-removes-queue-before-retain.json")),
        {Q: 7}.__getitem__,
        allowed=True,
    )
    assert line == (
        "WARNING: this change set will remove ConversionsQueue (7 messages, deleted with it): going ahead "
        "(--allow-queue-replacement)."
    )


# --- Against moto's CloudFormation: the same calls make deploy makes on AWS ---


@pytest.fixture
def deployed(aws: EmbeddedAws, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """The queue stack, created through apply(): its queue URLs."""
    cloudformation, sqs = aws.client("cloudformation"), aws.client("sqs")
    since = change_set(cloudformation, STACK, queue_template())
    assert deploy.apply(cloudformation, sqs, STACK, since, allowed=False, confirm=False) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1] == f"Stack {STACK}: CREATE_COMPLETE"
    return queue_urls(cloudformation, STACK)


def apply(aws: EmbeddedAws, *, allowed: bool = False, answer: str | None = None) -> int:
    template = renamed(queue_template(), "ConversionsQueue", "Conversions")
    cloudformation = aws.client("cloudformation")
    since = change_set(cloudformation, STACK, template)
    return deploy.apply(
        cloudformation,
        aws.client("sqs"),
        STACK,
        since,
        allowed=allowed,
        confirm=answer is not None,
        ask=lambda _: answer or "",
    )


def send(aws: EmbeddedAws, url: str, count: int) -> None:
    for n in range(count):
        aws.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}))


def available_change_sets(aws: EmbeddedAws) -> list[str]:
    summaries = aws.client("cloudformation").list_change_sets(StackName=STACK)["Summaries"]
    return [s["ChangeSetName"] for s in summaries if s.get("ExecutionStatus") == "AVAILABLE"]


def test_make_deploy_refuses_to_remove_a_queue_that_holds_messages_and_deletes_the_change_set(
    aws: EmbeddedAws, deployed: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    send(aws, deployed["ConversionsQueue"], 3)
    assert apply(aws) == 1
    lines = capsys.readouterr().out.splitlines()
    # moto's change sets carry no PolicyAction: the guard assumes the worst.
    assert (
        lines[-1]
        == f"REFUSED: this change set would remove ConversionsQueue (3 messages, deleted with it). {DRAIN}"
    )
    assert available_change_sets(aws) == [], "a refused change set cannot be run by mistake"
    assert queue_urls(aws.client("cloudformation"), STACK) == deployed, "the stack is untouched"
    assert queue_depth(aws.client("sqs"), deployed["ConversionsQueue"]) == 3


def test_once_the_queue_is_drained_the_same_change_runs(
    aws: EmbeddedAws, deployed: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    send(aws, deployed["ConversionsQueue"], 2)
    assert apply(aws) == 1
    assert len(drain(aws.client("sqs"), deployed["ConversionsQueue"])) == 2
    capsys.readouterr()
    assert apply(aws) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "  ok    no queue that holds messages is replaced or removed" in lines
    assert lines[-1] == f"Stack {STACK}: UPDATE_COMPLETE"
    assert set(queue_urls(aws.client("cloudformation"), STACK)) == {"Conversions", "DeadLetterQueue"}


def test_the_flag_runs_it_anyway_after_one_warning(
    aws: EmbeddedAws, deployed: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    send(aws, deployed["ConversionsQueue"], 1)
    assert apply(aws, allowed=True) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == (
        "WARNING: this change set will remove ConversionsQueue (1 message, deleted with it): going ahead "
        "(--allow-queue-replacement)."
    )
    assert lines[-1] == f"Stack {STACK}: UPDATE_COMPLETE"


def test_a_change_set_not_confirmed_is_deleted_and_not_run(
    aws: EmbeddedAws, deployed: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert apply(aws, answer="n") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "Not deployed: the change set is deleted."
    assert available_change_sets(aws) == []
    assert queue_urls(aws.client("cloudformation"), STACK) == deployed


def test_without_a_change_set_there_is_nothing_to_deploy(
    aws: EmbeddedAws, deployed: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # sam deploy --no-fail-on-empty-changeset leaves none when nothing changed.
    cloudformation = aws.client("cloudformation")
    now = datetime.now(UTC)
    assert deploy.apply(cloudformation, aws.client("sqs"), STACK, now, allowed=False, confirm=False) == 0
    assert capsys.readouterr().out == f"No change to deploy: stack {STACK} is up to date.\n"


def test_make_deploy_stops_sam_at_the_change_set_then_refuses_it(
    aws: EmbeddedAws,
    deployed: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """deploy.main as `make deploy` runs it, with `sam` standing in: it creates the change set on moto."""
    for name, value in aws.environment().items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    saved = tmp_path / "samconfig.toml"
    secret = 'RoktSecretArn=\\"arn:aws:secretsmanager:us-east-1:123456789012:secret:rokt-AbC123\\"'
    text = (ROOT / "samconfig.toml").read_text()
    saved.write_text(
        text.replace('RoktEnvironment=\\"development\\""', f'RoktEnvironment=\\"development\\" {secret}"')
    )
    ran: list[list[str]] = []

    def sam(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        ran.append(command)
        if command[1] == "deploy":
            change_set(
                aws.client("cloudformation"), STACK, renamed(queue_template(), "ConversionsQueue", "Q")
            )
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(deploy.subprocess, "run", sam)
    send(aws, deployed["ConversionsQueue"], 2)
    capsys.readouterr()
    assert deploy.main(["--python", sys.executable, "--samconfig", str(saved)]) == 1
    assert [command[1] for command in ran] == ["build", "deploy"]
    assert ran[1][-2:] == ["--no-execute-changeset", "--no-fail-on-empty-changeset"]
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[-1]
        == f"REFUSED: this change set would remove ConversionsQueue (2 messages, deleted with it). {DRAIN}"
    )


def test_the_refusal_points_to_the_upgrade_notes() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text()
    assert "\n## Upgrades\n" in operations
    assert changeset.ALLOW_FLAG in operations
    assert f"ARGS={changeset.ALLOW_FLAG}" in (ROOT / "README.md").read_text()
