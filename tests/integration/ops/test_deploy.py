"""`make deploy` / `make logs` before they run anything: the prerequisite lines and the SAM commands.

AWS credentials are checked for real: with none at all, and against moto's STS. Nothing is deployed.
"""

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import API_KEY, API_SECRET, ROOT

from devstack.embedded_aws import EmbeddedAws
from devstack.template import StackSettings
from ops import deploy, logs, send_test
from ops.samconfig import parse_overrides

PYTHON = sys.executable  # the virtualenv's python3.13
# sam deploy stops at the change set: make deploy reads it before running it (test_changeset.py).
REVIEW = " --no-execute-changeset --no-fail-on-empty-changeset"
AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
)  # fmt: skip


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A machine where nobody configured AWS: no variables, no files, no instance metadata."""
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def account(no_aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmbeddedAws]:
    """Credentials that STS (moto's) accepts, and a region."""
    with EmbeddedAws(StackSettings.from_template(ROOT / "template.yaml"), API_KEY, API_SECRET) as aws:
        for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
            monkeypatch.setenv(name, aws.environment()[name])
        yield aws


def samconfig(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "samconfig.toml"
    path.write_text((ROOT / "samconfig.toml").read_text() + extra)
    return path


def run(
    argv: list[str], capsys: pytest.CaptureFixture[str], tool: Callable[[list[str]], int] = deploy.main
) -> tuple[int, list[str]]:
    status = tool(argv)
    return status, capsys.readouterr().out.splitlines()


def test_without_credentials_or_region_each_missing_piece_is_one_line(
    no_aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines = run(["--python", PYTHON, "--check-only"], capsys)
    assert status == 1
    assert lines == [
        "Checking what `sam deploy --config-env default` needs...",
        f"  ok    python3.13       {PYTHON}",
        f"  ok    SAM CLI          {Path(PYTHON).parent / 'sam'}",
        "  FAIL  AWS credentials  no AWS credentials found: run `aws configure` or `aws sso login`, or set "
        "AWS_PROFILE",
        "  FAIL  AWS region       no AWS region: set AWS_REGION, give your profile one (aws configure), or "
        "add ARGS=--region=…",
        "  ok    stack name       rokt-event-forwarder",
        "Fix each FAIL line above, then run make deploy again.",
    ]


def test_a_missing_python313_is_named(account: EmbeddedAws, capsys: pytest.CaptureFixture[str]) -> None:
    status, lines = run(["--python", "/nonexistent/python3.13", "--check-only"], capsys)
    assert status == 1
    assert lines[1].startswith("  FAIL  python3.13       not found: `sam build` needs it on PATH")


def test_the_first_deploy_is_guided(account: EmbeddedAws, capsys: pytest.CaptureFixture[str]) -> None:
    status, lines = run(["--python", PYTHON, "--check-only"], capsys)
    assert status == 0
    assert lines[3] == "  ok    AWS credentials  account 123456789012 as arn:aws:sts::123456789012:user/moto"
    assert lines[4] == "  ok    AWS region       us-east-1 (from AWS_REGION)"
    assert lines[-3].startswith("First deploy of default: `sam deploy --guided` asks for RoktSecretArn")
    deploy = "$ sam deploy --guided --config-env default --region us-east-1" + REVIEW
    assert lines[-2:] == ["$ sam build", deploy]


def test_production_is_its_own_config_env(account: EmbeddedAws, capsys: pytest.CaptureFixture[str]) -> None:
    status, lines = run(["--config-env", "prod", "--python", PYTHON, "--check-only"], capsys)
    assert status == 0
    assert lines[0] == "Checking what `sam deploy --config-env prod` needs..."
    assert "  ok    stack name       rokt-event-forwarder-prod" in lines
    assert lines[-1] == "$ sam deploy --guided --config-env prod --region us-east-1" + REVIEW


def test_once_the_answers_are_saved_the_deploy_is_plain_in_the_saved_region(
    account: EmbeddedAws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # What `sam deploy --guided` saves: the region (also in global) and every parameter it asked.
    saved = samconfig(tmp_path, "")
    text = (
        saved.read_text()
        .replace(
            "[prod.deploy.parameters]\n",
            '[prod.deploy.parameters]\nregion = "eu-west-1"\n',
        )
        .replace(
            'RoktEnvironment=\\"production\\""',
            'RoktEnvironment=\\"production\\" RoktSecretArn=\\"arn:aws:secretsmanager:eu-west-1:123456789012:'
            'secret:rokt-AbC123\\""',
        )
    )
    saved.write_text(text)
    argv = ["--config-env", "prod", "--python", PYTHON, "--samconfig", str(saved), "--check-only"]
    status, lines = run(argv, capsys)
    assert status == 0
    assert "  ok    AWS region       eu-west-1 (from samconfig.toml)" in lines
    assert lines[-2:] == [
        f"$ sam build --config-file {saved}",
        f"$ sam deploy --config-env prod --config-file {saved} --region eu-west-1" + REVIEW,
    ]


def test_a_stack_name_too_long_for_the_function_name_is_refused(
    account: EmbeddedAws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "rokt-event-forwarder-" + "x" * 34  # 55 characters
    saved = samconfig(tmp_path, "")
    saved.write_text(saved.read_text().replace('"rokt-event-forwarder"', f'"{name}"', 1))
    status, lines = run(["--python", PYTHON, "--samconfig", str(saved), "--check-only"], capsys)
    assert status == 1
    assert (
        f"  FAIL  stack name       stack name {name!r} is 55 characters: at most 54, because the function is "
        f"named {name}-forwarder and Lambda function names are at most 64 characters" in lines
    )


def test_send_test_without_credentials_says_so(no_aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert send_test.main(["--region", "eu-west-1"]) == 2
    assert capsys.readouterr().err == (
        "ERROR: no AWS credentials found: run `aws configure` or `aws sso login`, or set AWS_PROFILE\n"
    )


def test_logs_tail_the_stack_function(account: EmbeddedAws, capsys: pytest.CaptureFixture[str]) -> None:
    status, lines = run(["--config-env", "prod", "--check-only"], capsys, logs.main)
    assert status == 0
    assert lines == [
        "$ sam logs --cw-log-group /aws/lambda/rokt-event-forwarder-prod-forwarder --region us-east-1 --tail"
    ]


def dry_run(target: str, env: dict[str, str]) -> str:
    """What `make -n target` would run (the virtualenv exists, so only the target's recipe)."""
    result = subprocess.run(
        ["make", "-n", target], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("target", ["deploy", "logs", "check-credentials", "send-test"])
def test_account_targets_do_not_inherit_the_makefile_test_region(target: str) -> None:
    # The Makefile exports AWS_DEFAULT_REGION=us-east-1 for the local stack; a deploy must not use it,
    # but a region the user set is theirs.
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_DEFAULT_REGION", "MAKEFLAGS", "MAKELEVEL")}
    assert dry_run(target, env).startswith("env -u AWS_DEFAULT_REGION ")
    mine = dry_run(target, {**env, "AWS_DEFAULT_REGION": "eu-west-1"})
    assert not mine.startswith("env -u")
    assert "--config-env default" in mine


def test_sam_parameter_overrides_are_read_as_sam_writes_them() -> None:
    text = (
        'RoktPod="eu1" RoktSecretArn="arn:aws:secretsmanager:eu-west-1:1:secret:x-AbC1" BatchSize=10 Empty=""'
    )
    assert parse_overrides(text) == {
        "RoktPod": "eu1",
        "RoktSecretArn": "arn:aws:secretsmanager:eu-west-1:1:secret:x-AbC1",
        "BatchSize": "10",
        "Empty": "",
    }
