"""What samconfig.toml says about a config environment (`default`, `prod`): stack, region, parameters.

The account tools (deploy, logs, send-test, check-credentials, dlq) read it so that `ENV=prod` means
the same stack and region to each of them as to `sam deploy --config-env prod`.
"""

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import boto3

ROOT = Path(__file__).resolve().parents[1]
SAMCONFIG = ROOT / "samconfig.toml"
DEFAULT_ENV = "default"
# CloudFormation stack names; the function is "{stack}-forwarder" and Lambda names are <= 64 characters.
MAX_STACK_NAME = 54
_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
# SAM writes parameter_overrides as space-separated Name="value" pairs.
_OVERRIDE = re.compile(r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|(\S+))')


@dataclass(frozen=True, slots=True)
class SamConfig:
    env: str
    stack_name: str | None = None
    region: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    confirm_changeset: bool = False

    @classmethod
    def load(cls, env: str = DEFAULT_ENV, path: Path = SAMCONFIG) -> Self:
        """The settings `sam deploy --config-env env` would use; an env the file lacks is empty."""
        tables: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8")).get(env, {})
        global_ = tables.get("global", {}).get("parameters", {})
        deploy = tables.get("deploy", {}).get("parameters", {})
        merged = {**global_, **deploy}  # a command's own table wins over global, as in SAM
        return cls(
            env=env,
            stack_name=merged.get("stack_name"),
            region=merged.get("region"),
            parameters=parse_overrides(str(merged.get("parameter_overrides", ""))),
            confirm_changeset=merged.get("confirm_changeset") is True,
        )

    def session(self, region: str | None = None) -> boto3.Session:
        """boto3's usual credentials, in `region`, else samconfig's, else AWS_REGION or boto3's own.

        boto3 itself reads AWS_DEFAULT_REGION and the profile's region, not AWS_REGION (which the AWS
        CLI and SAM CLI read), so that is added here.
        """
        return boto3.Session(region_name=region or self.region or os.environ.get("AWS_REGION") or None)


def function_name(stack_name: str) -> str:
    """The template's FunctionName (!Sub ${AWS::StackName}-forwarder), so its log group is known."""
    return f"{stack_name}-forwarder"


def parse_overrides(text: str) -> dict[str, str]:
    return {name: quoted if quoted else bare for name, quoted, bare in _OVERRIDE.findall(text)}


def stack_name_problem(name: str) -> str | None:
    """Why CloudFormation or this template would refuse the stack name, or None."""
    if not _STACK_NAME.fullmatch(name):
        return f"stack name {name!r} must start with a letter and hold only letters, digits and hyphens"
    if len(name) > MAX_STACK_NAME:
        return (
            f"stack name {name!r} is {len(name)} characters: at most {MAX_STACK_NAME}, because the "
            f"function is named {name}-forwarder and Lambda function names are at most 64 characters"
        )
    return None
