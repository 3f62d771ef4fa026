"""The README's statements that code can check: make targets, variables, commands, examples."""

import json
import re
from typing import Any

import pytest
from literals import ROOT

from devstack.release import next_steps
from devstack.template import load_template
from ops.dlq import SQS_REDRIVEN

README = (ROOT / "README.md").read_text()
CONFIG_PY = (ROOT / "layers/forwarder/rokt_forwarder/config.py").read_text()
SECRET_PY = (ROOT / "layers/forwarder/rokt_forwarder/adapters/secret.py").read_text()


def section(title: str) -> str:
    """The text of a `## title` section, up to the next `## `."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def function_variables() -> dict[str, Any]:
    template = load_template(ROOT / "template.yaml")
    variables: dict[str, Any] = template["Resources"]["ForwarderFunction"]["Properties"]["Environment"][
        "Variables"
    ]
    return variables


def test_every_make_target_it_names_exists() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, re.MULTILINE))
    named = set(re.findall(r"\bmake ([a-z][a-z0-9-]*)", README))
    assert named >= {"demo", "test", "deploy", "build", "check-credentials", "send-test", "logs"}
    assert named <= targets, f"the README names make targets the Makefile lacks: {named - targets}"


def test_every_variable_of_the_configuration_table_is_read_by_the_function() -> None:
    table = section("Configuration")
    named = re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", table, re.MULTILINE)
    assert len(named) >= 7
    for variable in named:
        assert f'"{variable}"' in CONFIG_PY + SECRET_PY, f"the function does not read {variable}"


def test_what_it_says_the_template_sets_is_what_the_template_sets() -> None:
    claim = re.search(r"`template.yaml` sets (.+?)\sfrom its parameters", section("Configuration"), re.DOTALL)
    assert claim
    said = set(re.findall(r"`([A-Z_]+)`", claim.group(1)))
    rokt = {"ROKT_SECRET_ID", "ROKT_POD", "ROKT_ENVIRONMENT", "HASH_PII", "DLQ_URL", "ROKT_API_URL"}
    rokt |= {"ROKT_MAX_BATCHES_PER_SECOND", "ROKT_CONCURRENCY"}
    rokt |= {"ROKT_MAPPING_FILE", "ROKT_MAPPING_PARAMETER", "ROKT_DATA_PLAN_ID", "ROKT_DATA_PLAN_VERSION"}
    set_by_template = {name for name, value in function_variables().items() if name in rokt and value != ""}
    assert said == set_by_template
    assert "ROKT_REQUEST_TIMEOUT" not in function_variables()  # so the README must not claim it is set


def test_the_redrive_command_names_its_destination() -> None:
    # Without --destination-arn, SQS cannot return messages that were sent to the DLQ (by the function
    # or the EventBridge rule): CouldNotDetermineMessageSource.
    commands = re.findall(r"aws sqs start-message-move-task[^`\n]*", README)
    assert commands
    for command in commands:
        assert "--source-arn <DeadLetterQueueArn>" in command
        assert "--destination-arn <QueueArn>" in command


def test_deploy_and_verify_walks_through_the_first_hour() -> None:
    steps = section("Deploy and verify")
    for command in (
        "make check-credentials",
        "make deploy",
        "make send-test",
        "make logs",
        "make deploy ENV=prod",
        "sam deploy --config-env prod",
        "start-message-move-task",
    ):
        assert command in steps, command
    assert "54 characters" in steps


def json_blocks(text: str) -> list[Any]:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.DOTALL)]


@pytest.mark.parametrize("example", json_blocks(section("The message format")))
def test_the_message_example_has_no_fixed_timestamp(example: dict[str, Any]) -> None:
    # A fixed timestamp is dead-lettered as too old 30 days after it was written.
    assert "timestamp" not in example


def test_deleting_the_stack_says_how_to_delete_the_retained_queues_and_move_what_they_hold() -> None:
    steps = section("Delete the stack")
    template = load_template(ROOT / "template.yaml")
    for queue in ("ConversionsQueue", "DeadLetterQueue"):
        assert template["Resources"][queue]["DeletionPolicy"] == "Retain"
        assert f"<stack name>-{queue}-<suffix>" in steps
    assert "aws sqs delete-queue --queue-url <QueueUrl>" in steps
    assert "aws sqs delete-queue --queue-url <DeadLetterQueueUrl>" in steps
    # The move command, as one line: the reason it names is the one that selects messages without one.
    move = re.search(r'make dlq ARGS="(.+?)"', " ".join(steps.split()))
    assert move
    assert "redrive --reason" in move.group(1)
    assert f"'{SQS_REDRIVEN}'" in move.group(1)


def test_releases_shows_the_steps_make_release_prints() -> None:
    steps = section("Releases")
    assert "make version VERSION=0.2.0" in steps
    assert "make release S3_BUCKET=my-releases" in steps
    for step in next_steps("dist/rokt-event-forwarder-0.2.0", "my-releases", "0.2.0"):
        assert f"\n{step}\n" in steps, step
    assert "serverlessrepo.amazonaws.com" in steps
