"""The README's statements that code can check: make targets, variables, commands, examples; and those of
the docs the README sends the reader to for the rest (docs/operations.md, docs/event-api.md)."""

import json
import re
from typing import Any

import pytest
from literals import ROOT

from devstack.release import next_steps
from devstack.template import load_template
from ops.dlq import SQS_REDRIVEN

README = (ROOT / "README.md").read_text()
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
EVENT_API = (ROOT / "docs" / "event-api.md").read_text()
DOCS = {path.name: path.read_text() for path in sorted((ROOT / "docs").glob("*.md"))}
CONFIG_PY = (ROOT / "layers/forwarder/rokt_forwarder/config.py").read_text()
SECRET_PY = (ROOT / "layers/forwarder/rokt_forwarder/adapters/secret.py").read_text()


def section(title: str, text: str = README) -> str:
    """The text of a `## title` section of the README (or of `text`), up to the next `## `."""
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def function_variables() -> dict[str, Any]:
    template = load_template(ROOT / "template.yaml")
    variables: dict[str, Any] = template["Resources"]["ForwarderFunction"]["Properties"]["Environment"][
        "Variables"
    ]
    return variables


MAKEFILE_TARGETS = set(re.findall(r"^([a-z][a-z0-9-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))


def test_every_make_target_it_names_exists() -> None:
    named = set(re.findall(r"\bmake ([a-z][a-z0-9-]*)", README))
    assert named >= {"demo", "test", "deploy", "build", "check-credentials", "send-test", "logs", "dlq"}
    assert named <= MAKEFILE_TARGETS, (
        f"the README names targets the Makefile lacks: {named - MAKEFILE_TARGETS}"
    )


@pytest.mark.parametrize("name", sorted(DOCS))
def test_every_make_target_a_doc_names_exists(name: str) -> None:
    # As a command: in backquotes, or starting a line of a code block (prose says "make the containers").
    named = set(re.findall(r"(?:`|^)make ([a-z][a-z0-9-]*)", DOCS[name], re.MULTILINE))
    assert named <= MAKEFILE_TARGETS, (
        f"docs/{name} names targets the Makefile lacks: {named - MAKEFILE_TARGETS}"
    )


def test_the_first_screen_gives_the_two_commands_of_a_fresh_machine() -> None:
    first_screen = "\n".join(README.splitlines()[:25])
    assert "make demo" in first_screen
    assert "make test" in first_screen


def test_the_readme_stays_a_front_page() -> None:
    # The detail lives in docs/; the README says what it is, how to try it, and where to read on.
    assert len(README.splitlines()) <= 300
    for doc in ("architecture", "event-api", "mappings", "operations", "local-development", "benchmarks"):
        assert f"](docs/{doc}.md" in README, f"the README does not link docs/{doc}.md"


LINK = re.compile(r"\]\(((?:\.\./|docs/)?[a-z.-]+\.(?:md|json))(?:#([a-z0-9-]+))?\)")


def anchors(markdown: str) -> set[str]:
    """The anchors a Markdown viewer gives the headings: lowercased, punctuation dropped, spaces as -."""
    headings = re.findall(r"^#+ (.+)$", markdown, re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_link_to_a_doc_names_a_file_and_heading_that_exist() -> None:
    # Relative links, as the Serverless Application Repository's copy of the README shows them too.
    checked = 0
    for source, text in {"README.md": README, **{f"docs/{n}": t for n, t in DOCS.items()}}.items():
        base = (ROOT / source).parent
        for target, anchor in LINK.findall(text):
            path = (base / target).resolve()
            assert path.is_file(), f"{source} links {target}, which does not exist"
            if anchor:
                assert anchor in anchors(path.read_text()), (
                    f"{source} links {target}#{anchor}: no such heading"
                )
            checked += 1
        for anchor in re.findall(r"\]\(#([a-z0-9-]+)\)", text):
            assert anchor in anchors(text), f"{source} links #{anchor}, which has no such heading"
            checked += 1
    assert checked >= 60


def test_every_parameter_of_the_configuration_table_is_the_templates_with_its_default() -> None:
    parameters = load_template(ROOT / "template.yaml")["Parameters"]
    row = re.compile(r"^\| (`[A-Za-z]+`(?:, `[A-Za-z]+`)*) \| ([^|]+) \|", re.MULTILINE)
    rows = row.findall(section("Configuration"))
    assert len(rows) >= 8
    for names, defaults in rows:
        said = re.findall(r"`([^`]*)`", defaults) or [""]
        for n, name in enumerate(re.findall(r"`([A-Za-z]+)`", names)):
            assert name in parameters, f"the template has no parameter {name}"
            default = str(parameters[name].get("Default", "(required)"))
            shown = said[min(n, len(said) - 1)] if "`" in defaults else defaults.strip()
            assert shown == (default or "empty"), f"{name}: the README says {shown!r}, not {default!r}"


def test_every_variable_of_the_configuration_table_is_read_by_the_function() -> None:
    table = section("Configuration", OPERATIONS)
    named = re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", table, re.MULTILINE)
    assert len(named) >= 7
    for variable in named:
        assert f'"{variable}"' in CONFIG_PY + SECRET_PY, f"the function does not read {variable}"


def test_what_it_says_the_template_sets_is_what_the_template_sets() -> None:
    table = section("Configuration", OPERATIONS)
    claim = re.search(r"`template.yaml` sets (.+?)\sfrom its parameters", table, re.DOTALL)
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
    commands = re.findall(r"aws sqs start-message-move-task[^`\n]*", README + "".join(DOCS.values()))
    assert commands
    for command in commands:
        assert "--source-arn <DeadLetterQueueArn>" in command
        assert "--destination-arn <QueueArn>" in command


def test_the_readme_deploys_in_the_commands_of_the_first_hour() -> None:
    steps = section("Deploy")
    for command in ("make check-credentials", "make deploy", "make send-test", "make logs", "ENV=prod"):
        assert command in steps, command
    assert "54 characters" in steps
    assert "](docs/operations.md#deploy-and-verify)" in steps


def test_deploy_and_verify_walks_through_the_first_hour() -> None:
    steps = section("Deploy and verify", OPERATIONS)
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


EXAMPLES = json_blocks(section("The message format")) + json_blocks(
    section("The message a producer sends", EVENT_API)
)


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_message_example_has_no_fixed_timestamp(example: dict[str, Any]) -> None:
    # A fixed timestamp is dead-lettered as too old 30 days after it was written.
    assert "timestamp" not in example


def test_deleting_the_stack_says_how_to_delete_the_retained_queues_and_move_what_they_hold() -> None:
    steps = section("Delete the stack", OPERATIONS)
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
    steps = section("Releases", OPERATIONS)
    assert "make version VERSION=0.2.0" in steps
    assert "make release S3_BUCKET=my-releases" in steps
    for step in next_steps("dist/rokt-event-forwarder-0.2.0", "my-releases", "0.2.0"):
        assert f"\n{step}\n" in steps, step
    assert "serverlessrepo.amazonaws.com" in steps
