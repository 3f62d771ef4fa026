"""`make logs`: follow the deployed function's log lines, `sam logs --tail` of its log group.

The log group is known from samconfig.toml's stack name for --config-env (the template names the
function {stack}-forwarder and its log group /aws/lambda/{function}), so no stack lookup is needed.
Ctrl-C stops it.
"""

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ops import cli
from ops.samconfig import ROOT, SamConfig, function_name


def log_group_name(function_name: str) -> str:
    """Lambda's default log group of a function (the template's ForwarderLogGroup has this name)."""
    return f"/aws/lambda/{function_name}"


def sam_cli() -> Path:
    """The SAM CLI installed beside this Python (make venv installs it)."""
    return Path(sys.executable).parent / "sam"


def shown(command: Sequence[str]) -> str:
    return "$ " + " ".join(["sam", *command[1:]])


@cli.entry
def main(argv: Sequence[str] | None = None) -> int:
    parser = cli.tool_parser("make logs ARGS=...", __doc__)
    cli.add_region(parser)
    parser.add_argument("--check-only", action="store_true", help="print the command; run nothing")
    args = parser.parse_args(argv)
    config = SamConfig.load(args.config_env)
    session = cli.session(config, args.region)
    if not config.stack_name:
        raise cli.Stop(f"samconfig.toml's {config.env} names no stack: deploy first (make deploy)")
    group = log_group_name(function_name(config.stack_name))
    command = [
        str(sam_cli()),
        "logs",
        "--cw-log-group",
        group,
        "--region",
        str(session.region_name),
        "--tail",
    ]
    print(shown(command), flush=True)
    if args.check_only:
        return cli.OK
    return subprocess.run(command, cwd=ROOT, check=False).returncode  # noqa: S603


if __name__ == "__main__":
    sys.exit(main())
