"""`make validate FILE=...`: check a JSON Lines file of message bodies offline, as the forwarder would.

    python -m ops.validate conversions.jsonl [--mapping my-mapping.json] [--hash-pii]

Each body goes through the forwarder's own parser and rules (batch.prepare); each invalid line is
printed with its reason (never its value), then the count of each reason, then the totals. Shopify
and Stripe events are judged by their presets, and a line that is not a conversion is listed as
skipped; --mapping FILE adds your own mapping, as ROKT_MAPPING_FILE does. No AWS account is needed.

Exit status: 0 every line is valid (or skipped), 1 some are invalid, 2 the file or mapping cannot be
read. (`make validate` itself exits 2 whenever the tool does not exit 0: make reports its recipe failed.)
"""

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ops import cli
from rokt_forwarder import limits
from rokt_forwarder.adapters import producers
from rokt_forwarder.batch import prepare
from rokt_forwarder.config import ProducerSettings
from rokt_forwarder.errors import ConfigError, RefusedError, SkippedError
from rokt_forwarder.mapping import Mappings


@dataclass(frozen=True)
class Invalid:
    line: int
    reason: str
    skipped: bool = False  # not invalid: a producer's event that is not a conversion (the reason says so)

    @property
    def shown(self) -> str:
        return f"skipped: {self.reason}" if self.skipped else self.reason


def validate(
    lines: Iterable[str],
    *,
    environment: str = "development",
    hash_pii: bool = False,
    mappings: Mappings | None = None,
) -> tuple[int, list[Invalid]]:
    """How many message bodies were read, and those the forwarder would not send, with its reason.

    The forwarder's own step (batch.prepare): the envelope, a producer's mapping (the presets unless
    `mappings`), the message, every rule of the batch. Blank lines are skipped.
    """
    mappings = producers.presets() if mappings is None else mappings
    now_ms = time.time_ns() // 1_000_000
    read, invalid = 0, []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        read += 1
        try:
            prepare(line, environment=environment, hash_pii=hash_pii, now_ms=now_ms, mappings=mappings)
        except RefusedError as error:
            invalid.append(Invalid(number, error.reason))
        except SkippedError as error:
            invalid.append(Invalid(number, error.reason, skipped=True))
        except Exception as error:  # the forwarder would fail (retry) such a record, not refuse it
            invalid.append(Invalid(number, f"unexpected {type(error).__name__}"))
    return read, invalid


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """validate's options: its own command's, and `make dlq ARGS="validate FILE"`'s."""
    parser.add_argument("file", help="one message body per line; - reads standard input")
    parser.add_argument(
        "--environment",
        choices=sorted(limits.ENVIRONMENTS),
        default="development",
        help="the stack's RoktEnvironment",
    )
    parser.add_argument("--hash-pii", action="store_true", help="as the forwarder with HASH_PII=true")
    parser.add_argument("--mapping", help="your JSON mapping of your own events, as ROKT_MAPPING_FILE")


def run(args: argparse.Namespace, out: IO[str]) -> int:
    try:
        mappings = producers.load(ProducerSettings(mapping_file=args.mapping))
        stream = sys.stdin if args.file == "-" else Path(args.file).open(encoding="utf-8")  # noqa: SIM115
        with stream:
            read, found = validate(
                stream, environment=args.environment, hash_pii=args.hash_pii, mappings=mappings
            )
    except ConfigError as error:
        raise cli.Stop(str(error)) from None
    except (OSError, UnicodeDecodeError) as error:
        raise cli.Stop(f"cannot read {args.file}: {error}") from None
    for item in found:
        print(f"line {item.line}: {item.shown}", file=out)
    if found:
        print("By reason:", file=out)
        counts = Counter(item.shown for item in found)
        for reason, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            print(f"  {count:>5}  {reason}", file=out)
    invalid = [item for item in found if not item.skipped]
    skipped = len(found) - len(invalid)
    but = f", {skipped} skipped (not conversions)" if skipped else ""
    print(f"{read} messages: {read - len(found)} valid, {len(invalid)} invalid{but}", file=out)
    return cli.PROBLEM if invalid else cli.OK


@cli.entry
def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    parser = cli.tool_parser("python -m ops.validate", __doc__, config_env=False)
    add_arguments(parser)
    return run(parser.parse_args(argv), out or sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
