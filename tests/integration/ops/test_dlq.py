"""The DLQ tool (ops/dlq/) against moto in server mode: report, redrive (all, by reason).

validate, which needs no AWS, is tests/unit/ops/test_validate.py."""

import io
import json
import os
import signal
import threading
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from sqs_limits import Recorder
from support import API_KEY, API_SECRET, ROOT, invoke, lambda_handler, receive_event, send

from devstack.embedded_aws import CREDENTIALS, EmbeddedAws
from devstack.function import containers
from devstack.runner import EventSourceMapping
from devstack.sandbox import Sandbox, SandboxConfig
from ops import dlq
from ops.queues import drain, queue_depth, wait_until_drained
from rokt_forwarder.adapters.sqs import Sqs
from rokt_forwarder.ports import DeadLetter

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

EMAIL = "email: must be an email address"
CURRENCY = "currency: must be a 3-letter currency code"


@pytest.fixture(autouse=True)
def journals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The redrive journals go to the test's own directory, never the user's cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "rokt-event-forwarder"


def journal(aws: EmbeddedAws) -> dlq.Journal:
    return dlq.Journal.for_queue(aws.dlq_url)


@pytest.fixture
def letters(aws_env: EmbeddedAws) -> dict[str, str]:
    """Four dead letters as the forwarder writes them, and one SQS moved itself (no reason): id → body."""
    aws = aws_env
    sqs = aws.client("sqs")
    bodies = {
        "m-1": json.dumps({"email": "jane@example", "amount": 1}),
        "m-2": json.dumps({"email": "sam@", "amount": 2}),
        "m-3": json.dumps({"email": "kim@example.com", "currency": "dollars"}),
    }
    reasons = {"m-1": EMAIL, "m-2": EMAIL, "m-3": CURRENCY}
    unsent = Sqs(sqs).dead_letter(
        aws.dlq_url,
        [DeadLetter(mid, bodies[mid], reasons[mid], aws.queue_arn) for mid in bodies],
    )
    assert unsent == set()
    moved = sqs.send_message(QueueUrl=aws.dlq_url, MessageBody='{"customerid": "c-9"}')["MessageId"]
    return {**bodies, moved: '{"customerid": "c-9"}'}


def run(aws: EmbeddedAws, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    queues = ["--queue-url", aws.queue_url, "--dlq-url", aws.dlq_url]
    code = dlq.main([*queues, "--endpoint-url", aws.endpoint_url, *args], out=out)
    return code, out.getvalue()


def in_queue(aws: EmbeddedAws, url: str) -> Counter[str]:
    return Counter(message["Body"] for message in drain(aws.client("sqs"), url))


def test_report_counts_by_reason_with_ids_never_a_body_and_leaves_every_message(
    aws: EmbeddedAws, letters: dict[str, str]
) -> None:
    code, out = run(aws, "report")
    assert code == 0
    lines = out.splitlines()
    assert lines[1] == "Dead letters, by reason (4)"
    assert lines[2:] == [
        f"      2  {EMAIL}",
        "         ids: m-1, m-2",
        f"      1  {dlq.SQS_REDRIVEN}",  # ties in the order of their reasons
        f"         ids: {next(mid for mid in letters if not mid.startswith('m-'))}",
        f"      1  {CURRENCY}",
        "         ids: m-3",
    ]
    for body in letters.values():
        assert body not in out
    assert "jane@example" not in out
    sqs = aws.client("sqs")
    assert queue_depth(sqs, aws.dlq_url, visible_only=True) == 4, "looked at, released at once"


def test_report_as_json(aws: EmbeddedAws, letters: dict[str, str]) -> None:
    code, out = run(aws, "report", "--json")
    assert code == 0
    report = json.loads(out)
    assert report[EMAIL] == ["m-1", "m-2"]
    assert report[CURRENCY] == ["m-3"]
    assert len(report[dlq.SQS_REDRIVEN]) == 1


def test_redrive_without_a_move_task_moves_each_message_exactly_once(
    aws: EmbeddedAws, letters: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(aws, "redrive")
    assert code == 0
    assert "StartMessageMoveTask unavailable" in capsys.readouterr().err, "moto has none: the fallback ran"
    assert out == f"moved 4 to {aws.queue_url}; left 0 not selected\n"
    assert in_queue(aws, aws.queue_url) == Counter(letters.values()), "each body once, unchanged"
    assert queue_depth(aws.client("sqs"), aws.dlq_url) == 0


def test_redrive_prints_its_progress_every_so_many_letters(
    aws: EmbeddedAws,
    letters: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dlq.move, "PROGRESS_EVERY", 2)
    code, out = run(aws, "redrive")
    assert code == 0
    progress = [line for line in capsys.readouterr().err.splitlines() if "so far" in line]
    # Letters move a receive (up to ten) at a time: a line each time a multiple of 2 is passed.
    assert progress and progress[-1] == "  moved 4 so far (of about 4 in the DLQ at the start)"
    assert out == f"moved 4 to {aws.queue_url}; left 0 not selected\n"


def test_redriven_messages_lose_the_dead_letter_attributes(aws: EmbeddedAws, letters: dict[str, str]) -> None:
    run(aws, "redrive", "--reason", CURRENCY)
    (message,) = drain(aws.client("sqs"), aws.queue_url)
    assert message["Body"] == letters["m-3"]
    assert not set(message.get("MessageAttributes", {})) & dlq.DEAD_LETTER_ATTRIBUTES


@pytest.mark.parametrize(("reason", "moved"), [(EMAIL, ["m-1", "m-2"]), (dlq.SQS_REDRIVEN, [])])
def test_redrive_by_reason_moves_only_those_and_leaves_the_rest_visible(
    aws: EmbeddedAws, letters: dict[str, str], reason: str, moved: list[str]
) -> None:
    expected = [letters[mid] for mid in moved] or [
        letters[mid] for mid in letters if not mid.startswith("m-")
    ]
    code, out = run(aws, "redrive", "--reason", reason)
    assert code == 0
    assert out == f"moved {len(expected)} to {aws.queue_url}; left {4 - len(expected)} not selected\n"
    assert in_queue(aws, aws.queue_url) == Counter(expected)
    assert queue_depth(aws.client("sqs"), aws.dlq_url, visible_only=True) == 4 - len(expected)


def test_redrive_dry_run_and_max(aws: EmbeddedAws, letters: dict[str, str]) -> None:
    assert run(aws, "redrive", "--dry-run")[1].startswith("would move 4 ")
    assert queue_depth(aws.client("sqs"), aws.queue_url) == 0
    assert run(aws, "redrive", "--max", "1")[1].startswith("moved 1 ")
    assert sum(in_queue(aws, aws.queue_url).values()) == 1
    assert queue_depth(aws.client("sqs"), aws.dlq_url, visible_only=True) == 3


@pytest.mark.parametrize(
    ("stack", "naming"),
    [("forwarder", ["--stack", "forwarder"]), ("rokt-event-forwarder-prod", ["--config-env", "prod"])],
)
def test_the_queues_can_be_named_by_the_stack(
    aws: EmbeddedAws,
    letters: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    stack: str,
    naming: list[str],
) -> None:
    cloudformation = aws.client("cloudformation")
    outputs = {"QueueUrl": aws.queue_url, "DeadLetterQueueUrl": aws.dlq_url}
    template = {
        "Resources": {"Nothing": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)  # as the AWS CLI and SAM: AWS_REGION is enough
    monkeypatch.setenv("AWS_REGION", aws.region)
    out = io.StringIO()
    assert dlq.main([*naming, "--endpoint-url", aws.endpoint_url, "report"], out=out) == 0
    assert out.getvalue().startswith(f"{aws.dlq_url}: 4 messages\n")


def test_aws_errors_are_one_line_not_a_traceback(
    aws: EmbeddedAws, letters: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert dlq.main(["--stack", "no-such-stack", "--endpoint-url", aws.endpoint_url, "report"]) == 2
    assert capsys.readouterr().err.startswith("ERROR: AWS refused or could not be reached: ")


def test_redrive_sends_large_letters_in_calls_sqs_accepts(aws_env: EmbeddedAws) -> None:
    """Three 200 KB letters are over one SendMessageBatch call's limit (256 KiB in all)."""
    aws = aws_env
    sqs = aws.client("sqs")
    bodies = [json.dumps({"email": f"u{n}@example.com", "pad": "x" * 200_000}) for n in range(3)]
    for body in bodies:
        sqs.send_message(QueueUrl=aws.dlq_url, MessageBody=body)
    calls: list[int] = []

    def measure(params: dict[str, Any], **_: object) -> None:  # moto does not check a call's total size
        calls.append(sum(len(entry["MessageBody"]) for entry in params["Entries"]))

    sqs.meta.events.register("provide-client-params.sqs.SendMessageBatch", measure)
    moved = dlq.redrive(sqs, dlq.Queues(aws.queue_url, aws.dlq_url), journal=journal(aws), limit=3)
    assert (moved.moved, moved.left, moved.error) == (3, 0, None)
    assert len(calls) >= 2 and max(calls) <= 256 * 1024
    assert in_queue(aws, aws.queue_url) == Counter(bodies)


def test_a_redrive_stopped_by_aws_says_so_and_leaves_every_letter_in_the_dlq(
    aws: EmbeddedAws, letters: dict[str, str]
) -> None:
    sqs = aws.client("sqs")

    def refuse(**_: object) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "SendMessageBatch")

    sqs.meta.events.register("before-call.sqs.SendMessageBatch", refuse)
    moved = dlq.redrive(sqs, dlq.Queues(aws.queue_url, aws.dlq_url), journal=journal(aws), reason=EMAIL)
    assert moved.error is not None and moved.error.startswith("ClientError: ")
    assert (moved.moved, moved.unsent, moved.undeleted) == (0, 2, 0)
    assert queue_depth(sqs, aws.queue_url) == 0
    assert queue_depth(sqs, aws.dlq_url, visible_only=True) == 4, "released at once, not after the hold"


def test_letters_a_run_could_not_reach_are_reported(
    aws: EmbeddedAws, letters: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = aws.client("sqs")
    held = sqs.receive_message(QueueUrl=aws.dlq_url, MaxNumberOfMessages=1, VisibilityTimeout=60)
    assert len(held["Messages"]) == 1  # another consumer holds one letter
    code, out = run(aws, "report")
    assert code == 1
    assert out.startswith(f"{aws.dlq_url}: 4 messages\nDead letters, by reason (3)\n")
    assert "1 dead letters were not reached" in capsys.readouterr().err
    assert run(aws, "redrive")[0] == 1
    assert "1 dead letters were not reached" in capsys.readouterr().err


def dead_lettered_by_sqs(aws: EmbeddedAws, receipt_handle: str) -> None:
    """Receive the failed record until SQS (moto) moves it to the DLQ itself, as after MaxReceiveCount
    failed receives; it keeps its message id and gets no reason."""
    sqs = aws.client("sqs")
    sqs.change_message_visibility(QueueUrl=aws.queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=0)
    for _ in range(aws.settings.max_receive_count + 1):
        sqs.receive_message(QueueUrl=aws.queue_url, VisibilityTimeout=0)
    assert (queue_depth(sqs, aws.queue_url), queue_depth(sqs, aws.dlq_url)) == (0, 1)


def test_a_conversion_accepted_whose_answer_was_lost_then_redriven_is_counted_once(
    aws_env: EmbeddedAws,
) -> None:
    """The incident of the runbook: the API accepts, the answer is lost, the record fails until SQS
    dead-letters it; once it is over, `make dlq ARGS=redrive` sends it back under a new message id."""
    aws = aws_env
    (first_id,) = send(aws, [{"email": "jane@example.com", "amount": 19.99, "currency": "USD"}])
    lost = SandboxConfig(api_key=API_KEY, api_secret=API_SECRET, p_reset_after_accept=1.0)
    with (
        Sandbox(lost) as sandbox,
        lambda_handler({**aws.environment(), "ROKT_API_URL": sandbox.url}) as handler,
    ):
        event = receive_event(aws, 1)
        assert invoke(handler, event, timeout_seconds=3) == {first_id}, "no answer: reported failed"
        assert sandbox.stats()["batches_accepted"] == 1, "yet the API has it"
        dead_lettered_by_sqs(aws, event["Records"][0]["receiptHandle"])

        sandbox.config = replace(sandbox.config, p_reset_after_accept=0.0)  # the incident is over
        assert run(aws, "redrive")[1].startswith("moved 1 ")
        redriven = receive_event(aws, 1)
        assert redriven["Records"][0]["messageId"] != first_id, "the redrive gave it a new message id"
        assert invoke(handler, redriven) == set()
        stats = sandbox.stats()
    assert stats["batches_accepted"] == 1, "counted once"
    assert stats["deduplicated"] >= 1


def own_client(aws: EmbeddedAws) -> "SQSClient":
    """A client of the tool's own, so hooks registered on it touch nothing else of the test."""
    return boto3.client(
        "sqs",
        endpoint_url=aws.endpoint_url,
        region_name=aws.region,
        aws_access_key_id=CREDENTIALS,
        aws_secret_access_key=CREDENTIALS,
    )


def test_a_redrive_of_letters_still_invalid_makes_one_pass_while_the_function_refuses_them_again(
    aws_env: EmbeddedAws, letters: dict[str, str]
) -> None:
    """The function runs (the real handler, through the local event source mapping) and dead-letters the
    invalid letters again, under new message ids, while the tool is still receiving from the DLQ."""
    aws = aws_env
    settings = replace(aws.settings, batching_window_seconds=0, max_concurrency=1)
    config = SandboxConfig(api_key=API_KEY, api_secret=API_SECRET)
    outcome: list[tuple[int, str]] = []
    with (
        Sandbox(config) as sandbox,
        containers(ROOT, {**aws.environment(), "ROKT_API_URL": sandbox.url}) as new_container,
    ):
        mapping = EventSourceMapping.from_settings(
            aws.client("sqs"), aws.queue_url, aws.queue_arn, new_container, settings, region=aws.region
        )
        with mapping:
            tool = threading.Thread(target=lambda: outcome.append(run(aws, "redrive")), daemon=True)
            tool.start()
            tool.join(timeout=60)
            assert not tool.is_alive(), "the redrive must end"
            assert wait_until_drained(aws.client("sqs"), [aws.queue_url], timeout=30)
        accepted = sandbox.stats()["batches_accepted"]
    ((code, out),) = outcome
    assert code == 0
    assert out.startswith(f"moved 4 to {aws.queue_url}; left 0 not selected\n"), "what the DLQ held"
    invalid = [body for mid, body in letters.items() if mid.startswith("m-")]
    dead = drain(aws.client("sqs"), aws.dlq_url)
    assert Counter(m["Body"] for m in dead) == Counter(invalid), "each still-invalid letter once"
    assert all(m["MessageAttributes"]["reason"]["StringValue"] for m in dead)
    assert accepted == 1, "the valid one delivered once"


class Killed(BaseException):
    """The tool's process dying: nothing of it runs on (a BaseException no code of the tool catches)."""


def test_a_redrive_killed_between_send_and_delete_is_completed_by_the_next_without_duplicates(
    aws_env: EmbeddedAws, letters: dict[str, str]
) -> None:
    aws = aws_env
    queues = dlq.Queues(aws.queue_url, aws.dlq_url)
    dying = own_client(aws)

    def die(**_: object) -> None:  # the queue has confirmed the send; the delete never happens
        raise Killed

    dying.meta.events.register("before-call.sqs.DeleteMessageBatch", die)
    with pytest.raises(Killed):
        dlq.redrive(dying, queues, journal=journal(aws), reason=EMAIL)
    sqs = aws.client("sqs")
    assert queue_depth(sqs, aws.queue_url) == 2, "sent"
    assert queue_depth(sqs, aws.dlq_url) == 4, "and not deleted: in both queues"

    again = dlq.redrive(own_client(aws), queues, journal=journal(aws), reason=EMAIL)
    assert (again.moved, again.unsent, again.undeleted, again.error) == (2, 0, 0, None)
    assert in_queue(aws, aws.queue_url) == Counter([letters["m-1"], letters["m-2"]]), "each once"
    assert queue_depth(sqs, aws.dlq_url) == 2, "the other two were not selected"
    assert len(journal(aws)) == 0


def test_ctrl_c_stops_a_redrive_only_once_the_letters_in_hand_are_in_one_queue(
    aws_env: EmbeddedAws,
) -> None:
    aws = aws_env
    bodies = [json.dumps({"email": f"u{n}@example", "amount": n}) for n in range(15)]
    letters = [DeadLetter(f"m-{n}", body, EMAIL, aws.queue_arn) for n, body in enumerate(bodies)]
    assert Sqs(aws.client("sqs")).dead_letter(aws.dlq_url, letters) == set()
    tool = own_client(aws)
    pressed: list[int] = []

    def ctrl_c(**_: object) -> None:  # pressed while the first letters are on their way
        if not pressed:
            pressed.append(1)
            os.kill(os.getpid(), signal.SIGINT)

    tool.meta.events.register("after-call.sqs.SendMessageBatch", ctrl_c)
    limits = Recorder()
    tool.meta.events.register("provide-client-params.sqs", limits.hook())
    moved = dlq.redrive(tool, dlq.Queues(aws.queue_url, aws.dlq_url), journal=journal(aws), reason=EMAIL)
    assert limits.violations == []
    assert moved.interrupted and moved.error is None
    assert 0 < moved.moved < 15 and moved.undeleted == 0
    queued, dead = in_queue(aws, aws.queue_url), in_queue(aws, aws.dlq_url)
    assert queued + dead == Counter(bodies), "every letter in exactly one queue"
    assert sum(queued.values()) == moved.moved


def test_a_letter_dead_lettered_after_the_run_started_is_left_for_the_next_run(
    aws_env: EmbeddedAws, letters: dict[str, str]
) -> None:
    aws = aws_env
    tool = own_client(aws)
    new = json.dumps({"email": "late@example", "amount": 1})
    sent: list[DeadLetter] = []

    def producer_fails_again(**_: object) -> None:  # a second later by SQS's clock, one new dead letter
        if not sent:
            time.sleep(1.1)
            sent.append(DeadLetter("m-new", new, EMAIL, aws.queue_arn))
            assert Sqs(aws.client("sqs")).dead_letter(aws.dlq_url, sent) == set()

    tool.meta.events.register("after-call.sqs.SendMessageBatch", producer_fails_again)
    moved = dlq.redrive(tool, dlq.Queues(aws.queue_url, aws.dlq_url), journal=journal(aws), reason=EMAIL)
    assert (moved.moved, moved.later, moved.error) == (2, 1, None)
    assert in_queue(aws, aws.queue_url) == Counter([letters["m-1"], letters["m-2"]])
    assert in_queue(aws, aws.dlq_url)[new] == 1, "left, and visible again at once"
