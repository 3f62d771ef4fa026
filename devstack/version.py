"""`make version`: the forwarder's version, its one source and the copies that cannot read it.

The source is `__version__` in layers/forwarder/rokt_forwarder/__init__.py (the function logs it
and its metrics carry it). Some places cannot import it, so they hold a copy:

  template.yaml   Metadata SemanticVersion (what the Serverless Application Repository publishes;
                  intrinsic functions are not allowed there) and ForwarderLayer's Description
  pyproject.toml  [project] version
  CHANGELOG.md    a "## [x.y.z] - date" section

`make version` says whether every copy agrees; `make version VERSION=x.y.z` writes the new version
into the source and every copy, and turns CHANGELOG.md's Unreleased section into that version's.
Tests and `make release` refuse a copy that disagrees.
"""

import argparse
import datetime
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ops.samconfig import ROOT

SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
_VERSION = r"(?P<version>[0-9A-Za-z.+-]+)"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
UNRELEASED = "## [Unreleased]"


@dataclass(frozen=True, slots=True)
class Place:
    """One file holding the version, found by the line pattern around it (exactly one match)."""

    what: str
    path: str
    pattern: re.Pattern[str]

    def read(self, root: Path) -> str | None:
        found = [m.group("version") for m in self.pattern.finditer(self._text(root))]
        return found[0] if len(found) == 1 else None

    def write(self, root: Path, version: str) -> None:
        text = self._text(root)
        new, count = self.pattern.subn(lambda m: _replaced(m, version), text)
        if count != 1:
            raise ValueError(f"{self.path}: {self.what} not found exactly once")
        (root / self.path).write_text(new, encoding="utf-8")

    def _text(self, root: Path) -> str:
        return (root / self.path).read_text(encoding="utf-8")


def _replaced(match: re.Match[str], version: str) -> str:
    start, end = match.span("version")
    whole = match.group(0)
    offset = match.start()
    return whole[: start - offset] + version + whole[end - offset :]


SOURCE = Place(
    "__version__",
    "layers/forwarder/rokt_forwarder/__init__.py",
    re.compile(rf'^__version__ = "{_VERSION}"$', re.M),
)
COPIES = (
    Place("SemanticVersion", "template.yaml", re.compile(rf"^    SemanticVersion: {_VERSION}$", re.M)),
    Place(
        "the layer's Description",
        "template.yaml",
        re.compile(rf"^      Description: rokt_forwarder {_VERSION} and its dependencies", re.M),
    ),
    Place("[project] version", "pyproject.toml", re.compile(rf'^version = "{_VERSION}"$', re.M)),
)


def source_version(root: Path = ROOT) -> str:
    version = SOURCE.read(root)
    if version is None:
        raise ValueError(f"{SOURCE.path}: no single __version__ line")
    return version


def changelog_versions(root: Path = ROOT) -> dict[str, str]:
    """Each released version of CHANGELOG.md with its date, newest first."""
    text = (root / "CHANGELOG.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^## \[([^\]]+)\] - (\S+)$", text, re.M))


def problems(root: Path = ROOT) -> list[str]:
    """What disagrees with the source version, one line each; empty when every copy agrees."""
    version = source_version(root)
    found = [] if SEMVER.fullmatch(version) else [f"{SOURCE.path}: {version!r} is not MAJOR.MINOR.PATCH"]
    for place in COPIES:
        copy = place.read(root)
        if copy != version:
            found.append(f"{place.path}: {place.what} is {copy or 'missing'}, not {version}")
    released = changelog_versions(root)
    if version not in released:
        found.append(f"CHANGELOG.md: no '## [{version}] - YYYY-MM-DD' section")
    elif not _DATE.fullmatch(released[version]):
        found.append(f"CHANGELOG.md: {version}'s date {released[version]!r} is not YYYY-MM-DD")
    if released and next(iter(released)) != version:
        found.append(f"CHANGELOG.md: its newest section is {next(iter(released))}, not {version}")
    return found


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def set_version(
    version: str, root: Path = ROOT, today: Callable[[], datetime.date] = datetime.date.today
) -> None:
    """Write `version` into the source and every copy; Unreleased becomes its CHANGELOG section."""
    if not SEMVER.fullmatch(version):
        raise ValueError(f"{version!r} is not MAJOR.MINOR.PATCH")
    current = source_version(root)
    if SEMVER.fullmatch(current) and _key(version) <= _key(current):
        raise ValueError(f"{version} is not newer than {current}")
    unreadable = [place.path for place in (SOURCE, *COPIES) if place.read(root) is None]
    if unreadable:  # before writing anything: no half-written version
        raise ValueError(f"the version's place not found exactly once in {', '.join(unreadable)}")
    changelog = root / "CHANGELOG.md"
    text = changelog.read_text(encoding="utf-8")
    if text.count(f"\n{UNRELEASED}\n") != 1:
        raise ValueError(f"CHANGELOG.md: no single '{UNRELEASED}' section to release")
    heading = f"{UNRELEASED}\n\n## [{version}] - {today().isoformat()}\n"
    changelog.write_text(text.replace(f"\n{UNRELEASED}\n", f"\n{heading}", 1), encoding="utf-8")
    for place in (SOURCE, *COPIES):
        place.write(root, version)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.version",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "version", nargs="?", help="the new version (MAJOR.MINOR.PATCH); none: check the copies"
    )
    args = parser.parse_args(argv)
    try:
        if args.version:
            set_version(args.version)
            copies = ", ".join(dict.fromkeys(place.path for place in COPIES))
            print(f"version {args.version}: written to {SOURCE.path}, {copies}, CHANGELOG.md")
        found = problems()
    except (OSError, ValueError) as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    for line in found:
        print(f"ERROR: {line}", file=sys.stderr)
    if not found:
        print(f"version {source_version()}: every copy agrees")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
