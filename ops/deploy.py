"""`make deploy`: the SAM CLI with what it needs checked first, one line each.

It checks python3.13 (sam build needs it on PATH), the SAM CLI, AWS credentials, the region and the
stack name; then runs `sam build` and `sam deploy --config-env ENV --no-execute-changeset`, guided
while samconfig.toml holds no RoktSecretArn for ENV (the first deploy), plain after. It reads the
change set before running it, and refuses one that would replace or remove a queue holding messages
(ops/changeset.py; --allow-queue-replacement goes ahead); then it asks to confirm
(confirm_changeset), executes the change set and shows the stack's events.

ENV is a samconfig.toml environment: `default` (RoktEnvironment=development) or `prod`
(RoktEnvironment=production), each its own stack.
"""

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ops import changeset, cli
from ops.cli import CLIENT_CONFIG, NO_CREDENTIALS, NO_REGION
from ops.logs import sam_cli, shown
from ops.samconfig import ROOT, SAMCONFIG, SamConfig, stack_name_problem

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_sqs import SQSClient


@dataclass(frozen=True, slots=True)
class Check:
    what: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"  {'ok  ' if self.ok else 'FAIL'}  {self.what:<16} {self.detail}"


def check_python(python: str | None) -> Check:
    if not python or not Path(python).is_file():
        return Check(
            "python3.13",
            False,
            "not found: `sam build` needs it on PATH; install it (pyenv install 3.13) or run "
            "make deploy PYTHON313=/path/to/python3.13",
        )
    return Check("python3.13", True, python)


def check_sam(sam: Path) -> Check:
    if not sam.is_file():
        return Check("SAM CLI", False, f"{sam} missing: run make venv")
    return Check("SAM CLI", True, str(sam))


def check_credentials(session: boto3.Session) -> Check:
    # STS answers in every region; without one, ask its global endpoint's region.
    sts = session.client("sts", region_name=session.region_name or "us-east-1", config=CLIENT_CONFIG)
    try:
        identity = sts.get_caller_identity()
    except NoCredentialsError:
        return Check("AWS credentials", False, NO_CREDENTIALS)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        return Check(
            "AWS credentials", False, f"refused ({code}): sign in again (aws sso login, aws configure)"
        )
    except BotoCoreError as error:
        return Check("AWS credentials", False, f"cannot be checked: {error}")
    return Check("AWS credentials", True, f"account {identity['Account']} as {identity['Arn']}")


def check_region(session: boto3.Session, config: SamConfig, given: str | None) -> Check:
    """The region and where it came from, in SamConfig.session's order."""
    if not session.region_name:
        return Check("AWS region", False, NO_REGION)
    sources = [
        (given, "--region"),
        (config.region, "samconfig.toml"),
        (os.environ.get("AWS_REGION"), "AWS_REGION"),
    ]
    source = next((name for value, name in sources if value), "AWS_DEFAULT_REGION or your profile")
    return Check("AWS region", True, f"{session.region_name} (from {source})")


def check_stack_name(config: SamConfig) -> Check:
    name = config.stack_name
    if not name:
        return Check(
            "stack name", True, "none saved: `sam deploy --guided` asks for one (at most 54 characters)"
        )
    problem = stack_name_problem(name)
    return Check("stack name", problem is None, problem or name)


def guided(config: SamConfig) -> bool:
    """The first deploy of a config env is guided: it asks for the secret ARN, which has no default."""
    return "RoktSecretArn" not in config.parameters


def commands(config: SamConfig, region: str, samconfig: Path, sam: Path) -> list[list[str]]:
    """sam build, and sam deploy up to a change set: apply() reads it before it runs."""
    config_file = [] if samconfig == SAMCONFIG else ["--config-file", str(samconfig)]
    deploy = [str(sam), "deploy", *(["--guided"] if guided(config) else [])]
    review = ["--no-execute-changeset", "--no-fail-on-empty-changeset"]
    return [
        [str(sam), "build", *config_file],
        [*deploy, "--config-env", config.env, *config_file, "--region", region, *review],
    ]


def apply(
    cloudformation: "CloudFormationClient",
    sqs: "SQSClient",
    stack: str,
    since: datetime,
    *,
    allowed: bool,
    confirm: bool,
    ask: Callable[[str], str] = input,
) -> int:
    """Find the change set sam deploy made, refuse it if it endangers queued messages, else run it."""
    change_set = changeset.latest_change_set(cloudformation, stack, since)
    if change_set is None:
        print(f"No change to deploy: stack {stack} is up to date.")
        return 0
    print("Reading the change set: does it replace or remove a queue that holds messages?")
    line = changeset.review(cloudformation, sqs, change_set, allowed=allowed)
    if line and not allowed:
        cloudformation.delete_change_set(ChangeSetName=change_set)  # so nobody runs it by mistake
        print(line)
        return 1
    print(line or "  ok    no queue that holds messages is replaced or removed")
    if confirm and ask("Deploy this change set? [y/N]: ").strip().lower() not in ("y", "yes"):
        cloudformation.delete_change_set(ChangeSetName=change_set)
        print("Not deployed: the change set is deleted.")
        return 0
    print(f"Executing the change set on {stack}:", flush=True)
    if not changeset.execute(cloudformation, change_set, stack):
        return 1
    for output in cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", []):
        print(f"  {output.get('OutputKey', ''):<20} {output.get('OutputValue', '')}")
    return 0


def deploy(args: argparse.Namespace, config: SamConfig, sam: Path) -> int:
    session = config.session(args.region)
    print(f"Checking what `sam deploy --config-env {config.env}` needs...")
    checks = [
        check_python(args.python),
        check_sam(sam),
        check_credentials(session),
        check_region(session, config, args.region),
        check_stack_name(config),
    ]
    for check in checks:
        print(check.line())
    if not all(check.ok for check in checks):
        print("Fix each FAIL line above, then run make deploy again.")
        return 1
    region = session.region_name or ""  # checked above
    if guided(config):
        print(
            f"First deploy of {config.env}: `sam deploy --guided` asks for RoktSecretArn (the full ARN of "
            "your secret) and RoktPod; save them (Y) in samconfig.toml, and later deploys ask only to "
            "confirm the change set."
        )
    steps = commands(config, region, args.samconfig, sam)
    # sam build looks for python3.13 on PATH.
    env = {**os.environ, "PATH": f"{Path(args.python).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    since = datetime.now(UTC)
    for command in steps:
        print(shown(command), flush=True)
        if not args.check_only and subprocess.run(command, cwd=ROOT, env=env, check=False).returncode:  # noqa: S603
            return 1
    if args.check_only:
        return 0
    saved = SamConfig.load(config.env, args.samconfig)  # a guided deploy saves the stack name
    if not saved.stack_name:
        print(f"ERROR: samconfig.toml's {config.env} names no stack: save the guided answers, deploy again")
        return 1
    return apply(
        session.client("cloudformation", region_name=region, config=CLIENT_CONFIG),
        session.client("sqs", region_name=region, config=CLIENT_CONFIG),
        saved.stack_name,
        since,
        allowed=args.allow_queue_replacement,
        confirm=saved.confirm_changeset,
    )


@cli.entry
def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.tool_parser("make deploy ARGS=...", __doc__)
    cli.add_region(parser)
    parser.add_argument("--python", default=shutil.which("python3.13"), help="the python3.13 for sam build")
    parser.add_argument("--samconfig", type=Path, default=SAMCONFIG, help=argparse.SUPPRESS)
    parser.add_argument("--check-only", action="store_true", help="check and print the commands; run nothing")
    parser.add_argument(
        changeset.ALLOW_FLAG,
        action="store_true",
        help="run a change set even if it replaces or removes a queue holding messages",
    )
    args = parser.parse_args(argv)
    config = SamConfig.load(args.config_env, args.samconfig)
    return deploy(args, config, sam_cli())


if __name__ == "__main__":
    sys.exit(main())
