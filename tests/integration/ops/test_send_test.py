"""`make send-test` against the local stack: moto (SQS, CloudFormation, CloudWatch Logs), the in-process
event source mapping running the real handler, and the sandbox. The tool runs as against AWS: it finds
the queue in the stack's outputs and each outcome in the function's log lines."""

from decimal import Decimal

import boto3
import pytest
from literals import STACK, UNKNOWN_SECRET_ARN
from support import dead_letters

from devstack.embedded_aws import EmbeddedAws
from devstack.sandbox import Sandbox
from devstack.stack import running_forwarder
from ops import send_test
from ops.samconfig import function_name

# The tool finds AWS through boto3's standard settings, as it would find a real account.
pytestmark = pytest.mark.usefixtures("aws_env")


def accepted_refs(sandbox: Sandbox) -> set[str]:
    """The confirmationref of each conversion the API accepted: send-test-<run>-<sample>."""
    return {
        b["events"][0]["data"]["custom_attributes"]["confirmationref"] for b in sandbox.accepted_batches()
    }


def test_each_test_conversion_is_followed_to_its_delivery(
    aws: EmbeddedAws, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_forwarder(aws, sandbox.url, stack_name=STACK):
        status = send_test.main(["--timeout", "60"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.rstrip().endswith("OK: 3 of 3 test conversions ended as expected")
    delivered = {line.split()[-2] for line in out.splitlines() if line.endswith(" delivered")}
    assert len(delivered) == 3
    refs = accepted_refs(sandbox)
    assert len(sandbox.accepted_batches()) == len(refs) == 3, "the API accepted three conversions"
    assert len({ref.rsplit("-", 1)[0] for ref in refs}) == 1, "all of this run"
    assert {ref.rsplit("-", 1)[1] for ref in refs} == {"1", "2", "3"}, "one of each sample"
    batches = sandbox.accepted_batches()
    assert {b["environment"] for b in batches} == {"development"}, "test data, whatever the stack says"
    assert sum("other" in b["user_identities"] for b in batches) == 1  # the hashed-email sample


def test_an_invalid_conversion_is_followed_to_the_dlq_with_its_reason(
    aws: EmbeddedAws, sandbox: Sandbox
) -> None:
    with running_forwarder(aws, sandbox.url, stack_name=STACK):
        target = send_test.stack_target(aws.client("cloudformation"), STACK, aws.region)
        followed = send_test.run(boto3.Session(), target, timeout=60, with_invalid=True)
    outcomes = {f.sample.kind: f.last for f in followed}
    assert outcomes == {
        "flat": "delivered",
        "hashed email": "delivered",
        "EventBridge": "delivered",
        "invalid (bad email)": "dead_lettered: email: must be an email address",
    }
    (invalid,) = (f for f in followed if f.sample.kind.startswith("invalid"))
    assert dead_letters(aws)[invalid.message_id]["reason"] == "email: must be an email address"


def test_a_secret_that_does_not_exist_shows_as_a_failure_with_its_reason(
    aws: EmbeddedAws, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    # The placeholder ARN samconfig.toml used to carry: every record fails, and send-test says why.
    with running_forwarder(aws, sandbox.url, stack_name=STACK, env={"ROKT_SECRET_ID": UNKNOWN_SECRET_ARN}):
        status = send_test.main(["--timeout", "15"])
    out = capsys.readouterr().out
    assert status == 1
    assert "failed: credentials: cannot read secret" in out
    assert "ResourceNotFoundException" in out
    assert "PROBLEM: flat" in out
    assert out.rstrip().endswith("FAILED: 0 of 3 test conversions ended as expected")
    assert sandbox.accepted_batches() == []


def test_a_queue_url_is_followed_in_the_named_function_logs(
    aws: EmbeddedAws, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_forwarder(aws, sandbox.url, stack_name="other-stack"):
        status = send_test.main(
            ["--queue-url", aws.queue_url, "--function-name", function_name("other-stack"), "--timeout", "60"]
        )
    assert status == 0, capsys.readouterr().out


def test_a_missing_stack_is_one_clear_line(aws: EmbeddedAws, capsys: pytest.CaptureFixture[str]) -> None:
    assert send_test.main(["--stack-name", "not-deployed"]) == 2
    assert capsys.readouterr().err == (
        "ERROR: no stack not-deployed in us-east-1: deploy it first (make deploy), or pass "
        "--stack-name / --region / --config-env\n"
    )


def test_a_queue_url_needs_the_function_name(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        send_test.main(["--queue-url", "https://sqs.us-east-1.amazonaws.com/123456789012/q"])
    assert exit_.value.code == 2
    assert "--queue-url and --function-name go together" in capsys.readouterr().err


def test_the_shopify_and_stripe_shapes_are_followed_to_their_delivery(
    aws: EmbeddedAws, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_forwarder(aws, sandbox.url, stack_name=STACK, env={"ROKT_ENVIRONMENT": "production"}):
        status = send_test.main(["--shape", "shopify", "--shape", "stripe", "--timeout", "60"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.rstrip().endswith("OK: 2 of 2 test conversions ended as expected")
    assert "Shopify test order" in out and "Stripe test checkout" in out
    batches = sandbox.accepted_batches()
    assert {b["environment"] for b in batches} == {"development"}, "a test order and test mode are test data"
    assert sorted(b["events"][0]["data"]["custom_attributes"]["amount"] for b in batches) == [
        Decimal("1.00"),
        Decimal("1.00"),
    ]
    assert {b["user_identities"]["email"] for b in batches} == {send_test.TEST_EMAIL}
