"""What every operator tool starts and ends the same way: its command line, region, credentials, exit status.

Each tool's `main` is wrapped in `entry`, so an operator sees the same endings from all of them:

  0    done, and everything was as expected
  1    done, and it found a problem: an invalid line, a refused key/secret, a FAIL check, dead letters
       left or not reached, a test conversion that did not end as expected
  2    could not do it: a wrong argument, no region, no credentials, AWS refused or could not be reached
  130  interrupted (Ctrl-C): one line, "interrupted", and no traceback

Run through make, a failed tool makes `make` itself exit 2 (`make: *** [...] Error 1`): make reports that
its recipe failed, not the tool's status; run `python -m ops.<tool>` for the tool's own.
"""

import argparse
import functools
import sys
from collections.abc import Callable

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ops.samconfig import DEFAULT_ENV, SamConfig

OK = 0
PROBLEM = 1
CANNOT = 2
INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a program Ctrl-C stopped
INTERRUPTED_LINE = "interrupted"

# The account tools' AWS calls: a quick answer or a clear error, never a minute's silent retrying.
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})
NO_CREDENTIALS = "no AWS credentials found: run `aws configure` or `aws sso login`, or set AWS_PROFILE"
NO_REGION = "no AWS region: set AWS_REGION, give your profile one (aws configure), or add ARGS=--region=…"


class Stop(Exception):
    """The tool cannot go on; the message says what to do. `entry` prints it as one ERROR line."""

    def __init__(self, message: str, status: int = CANNOT) -> None:
        super().__init__(message)
        self.status = status


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The module's docstring as written, and each option's default where it has one worth showing.

    argparse's ArgumentDefaultsHelpFormatter, less "(default: None)" and "(default: False)": an option
    without a value of its own says in its help what stands in for it (samconfig.toml's, ...).
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help_ = action.help or ""
        default = action.default
        if (
            "%(default)" in help_
            or default in (None, False, argparse.SUPPRESS)
            or not (action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE))
        ):
            return action.help
        return f"{help_} (default: %(default)s)"


def tool_parser(prog: str, doc: str | None, *, config_env: bool = True) -> argparse.ArgumentParser:
    """The tools' command line, with the --config-env the account tools read samconfig.toml by."""
    parser = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=HelpFormatter)
    if config_env:
        parser.add_argument(
            "--config-env", default=DEFAULT_ENV, help="samconfig.toml environment (make ENV=prod)"
        )
    return parser


def add_region(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--region", help="AWS region (default: samconfig.toml's, else your AWS configuration)"
    )


def session(config: SamConfig, region: str | None) -> boto3.Session:
    """boto3's session for the account tools, in a region, or Stop: without one nothing can be asked."""
    found = config.session(region)
    if not found.region_name:
        raise Stop(NO_REGION)
    return found


def interruptible[**P](main: Callable[P, int]) -> Callable[P, int]:
    """Ctrl-C ends `main` with the one line "interrupted" and status 130, not a traceback."""

    @functools.wraps(main)
    def run(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except KeyboardInterrupt:
            print(INTERRUPTED_LINE, file=sys.stderr, flush=True)
            return INTERRUPTED

    return run


def entry[**P](main: Callable[P, int]) -> Callable[P, int]:
    """A tool's main, ending the same way as every other (the statuses above), errors on stderr."""

    @functools.wraps(main)
    def run(*args: P.args, **kwargs: P.kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except Stop as stop:
            print(f"ERROR: {stop}", file=sys.stderr)
            return stop.status
        except NoCredentialsError:
            print(f"ERROR: {NO_CREDENTIALS}", file=sys.stderr)
            return CANNOT
        except (BotoCoreError, ClientError) as error:
            print(f"ERROR: AWS refused or could not be reached: {error}", file=sys.stderr)
            return CANNOT

    return interruptible(run)
