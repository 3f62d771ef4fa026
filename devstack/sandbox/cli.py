"""``python -m devstack.sandbox``: the sandbox's options, and a sandbox that runs until Ctrl-C.

``options`` is shared with the local stack (devstack/stack.py), which passes what follows its ``--``
here, so one parser says what the sandbox accepts wherever it runs.
"""

import argparse
import contextlib
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from devstack.ratelimit import Usage
from devstack.sandbox.api import Sandbox
from devstack.sandbox.config import SandboxConfig
from devstack.sandbox.faults import parse_outage

DEFAULT_PORT = 8765


def parser(prog: str = "python -m devstack.sandbox") -> argparse.ArgumentParser:
    defaults = SandboxConfig()
    parser = argparse.ArgumentParser(prog=prog, description="A local Rokt Event API for integration tests.")
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"0 picks a free port (default {DEFAULT_PORT})"
    )
    parser.add_argument("--api-key", default=defaults.api_key)
    parser.add_argument("--api-secret", default=defaults.api_secret)
    parser.add_argument("--rate", type=float, default=defaults.rate, help="batches per second; 0 = no limit")
    parser.add_argument(
        "--usage",
        type=Usage,
        choices=list(Usage),
        default=defaults.usage,
        help="what X-mp-rate-limit-percentage-used reports: the last second's count (window), how "
        "spent the limiter's bucket is (bucket), or nothing (none)",
    )
    parser.add_argument(
        "--burst", type=float, default=defaults.burst, help="seconds of the rate the limiter's bucket holds"
    )
    parser.add_argument(
        "--acceleration",
        type=float,
        default=defaults.acceleration,
        metavar="F",
        help="acceleration limit: the last second may take F x the mean of the 5 before (0 = none)",
    )
    parser.add_argument(
        "--other-sender",
        dest="other_share",
        type=float,
        default=defaults.other_share,
        metavar="SHARE",
        help="another sender of the account takes this share of the rate (0 to 1)",
    )
    for flag, what in (
        ("--p503", "a 503"),
        ("--p500", "a 500"),
        ("--p429", "a 429 with Retry-After: 1"),
        ("--p-reset", "a connection reset before processing"),
        ("--p-reset-after-accept", "a connection reset after the batches are accepted"),
        ("--p-slow", "a slow response (see --slow-seconds)"),
    ):
        parser.add_argument(flag, type=float, default=0.0, metavar="P", help=f"probability of {what}")
    parser.add_argument(
        "--latency", type=float, default=defaults.latency, help="seconds added to every response"
    )
    parser.add_argument(
        "--slow-seconds", type=float, default=defaults.slow_seconds, help="length of a slow response"
    )
    parser.add_argument(
        "--outage",
        dest="outages",
        type=parse_outage,
        action="append",
        default=[],
        metavar="START-END",
        help="answer 503 to everything between these seconds after start (repeatable)",
    )
    parser.add_argument("--seed", type=int, help="seed of the fault draws, for a repeatable run")
    parser.add_argument(
        "--record", dest="record_path", type=Path, metavar="PATH", help="append accepted batches"
    )
    parser.add_argument("--quiet", dest="log_requests", action="store_false", help="do not log requests")
    return parser


def options(
    argv: Sequence[str] | None = None, *, prog: str = "python -m devstack.sandbox", **defaults: Any
) -> SandboxConfig:
    """The config ``argv`` asks for; ``defaults`` replace the parser's (the stack's host and port).

    A wrong option exits with status 2 and the parser's message, as any command line does.
    """
    command = parser(prog)
    command.set_defaults(**defaults)
    args = vars(command.parse_args(argv))
    try:
        return SandboxConfig(**{**args, "outages": tuple(args["outages"])})
    except ValueError as exc:
        command.error(str(exc))


def main(argv: Sequence[str] | None = None) -> int:
    config = options(argv)
    try:
        sandbox = Sandbox(config).start()
    except OSError as exc:
        print(f"cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    # Ctrl-C may come as soon as the line is out, before print returns: inside the suppress too.
    with contextlib.suppress(KeyboardInterrupt):
        print(f"Rokt Event API sandbox listening on {sandbox.url} (Ctrl-C stops it)", flush=True)
        threading.Event().wait()
    sandbox.stop()
    return 0
