"""What a Lambda container can import: the runtime's boto3, the layer's dependencies, the SDK baseline.

The development virtualenv also holds awscrt, cryptography and pyOpenSSL (moto's and the SAM CLI's),
which botocore imports when it finds them: they would add ~100 ms and ~20 MB to every cold start and
hide the difference between forwarders. Benchmark children run with `python -S` (no site-packages)
on this directory instead. The SDK baseline's package is installed beside; ours never imports it.
"""

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bench.contenders import OURS, ROOT

SITES = ROOT / ".bench"
# The runtime's boto3, at the versions the virtualenv pins (the closest stand-in for Lambda's own).
RUNTIME = ("boto3", "botocore", "s3transfer")
BASELINE = ("mparticle",)


def pinned(names: Iterable[str]) -> list[str]:
    """`names` and everything they require, pinned at the versions this virtualenv resolved together.

    Left to itself, pip --target takes the newest release of each dependency: for the SDK alone, a
    python-dateutil that the runtime's botocore refuses, and a resolver ERROR in the middle of a run.
    """
    found: dict[str, str] = {}
    waiting = [*names]
    while waiting:
        name = canonicalize_name(waiting.pop())
        if name in found:
            continue
        found[name] = metadata.version(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                waiting.append(requirement.name)
    return [f"{name}=={version}" for name, version in sorted(found.items())]


def requirements() -> list[str]:
    pins = pinned((*RUNTIME, *BASELINE))
    names = {pin.split("==", 1)[0] for pin in pins}
    layer = [Requirement(line) for line in _lines(ROOT / "layers" / "forwarder" / "requirements.txt")]
    return pins + [str(r) for r in layer if canonicalize_name(r.name) not in names]


def _lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def ensure() -> Path:
    """The directory, installed with pip --target on first use (one per set of requirements)."""
    wanted = requirements()
    site = SITES / f"site-{hashlib.sha256(chr(10).join(wanted).encode()).hexdigest()[:12]}"
    if not (site / ".complete").exists():
        shutil.rmtree(site, ignore_errors=True)  # a half-done install
        print(f"Installing the Lambda-like import path into {site.relative_to(ROOT)} ...", flush=True)
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*command, "--target", str(site), *wanted], check=True)  # noqa: S603
        (site / ".complete").touch()
    return site


@dataclass(frozen=True, slots=True)
class Deployed:
    """The code of each forwarder as it is deployed, for cold starts that compile what it does not ship.

    Lambda's code directories are read-only, so Python caches no bytecode there: `runtime` is the
    runtime's boto3 (compiled, as AWS ships it), `layer` our layer built by its own Makefile (compiled
    by it), `sdk` the SDK baseline's dependencies as `sam build` packages them (not compiled).
    """

    runtime: Path
    layer: Path
    sdk: Path

    def path(self, contender: str) -> list[Path]:
        # The baselines borrow our envelope unwrapping (rokt_forwarder.envelope): the layer comes last.
        return [self.layer, self.runtime] if contender == OURS else [self.sdk, self.runtime, self.layer]


def deployed() -> Deployed:
    """Installed on first use, one set per set of requirements (ensure()'s key)."""
    key = ensure().name.removeprefix("site-")
    base = SITES / f"deployed-{key}"
    done = base / ".complete"
    if not done.exists():
        shutil.rmtree(base, ignore_errors=True)
        print(f"Installing the deployed code of each forwarder into {base.relative_to(ROOT)} ...", flush=True)
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"]
        subprocess.run([*pip, str(base / "runtime"), *pinned(RUNTIME)], check=True)  # noqa: S603
        baseline = pinned(BASELINE)
        subprocess.run([*pip, str(base / "sdk"), "--no-compile", *baseline], check=True)  # noqa: S603
        layer = ["make", "-s", "-C", str(ROOT / "layers" / "forwarder"), "build-ForwarderLayer"]
        settings = [f"ARTIFACTS_DIR={base / 'layer'}", "PIP_PLATFORM=", f"PYTHON={sys.executable}"]
        subprocess.run([*layer, *settings], check=True)  # noqa: S603 - the project's own Makefile
        done.touch()
    return Deployed(base / "runtime", base / "layer" / "python", base / "sdk")
