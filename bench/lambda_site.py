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
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bench.contenders import OURS, ROOT

SITES = ROOT / ".bench"
# The runtime's boto3, at the versions the virtualenv pins (the closest stand-in for Lambda's own).
RUNTIME = ("boto3", "botocore", "s3transfer")
BASELINE = ("mparticle",)


def requirements() -> list[str]:
    pins = [f"{name}=={metadata.version(name)}" for name in (*RUNTIME, *BASELINE)]
    layer = (ROOT / "layers" / "forwarder" / "requirements.txt").read_text().splitlines()
    return pins + [line.strip() for line in layer if line.strip() and not line.lstrip().startswith("#")]


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
        pins = dict(line.split("==", 1) for line in requirements() if "==" in line)
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"]
        runtime = [f"{name}=={pins[name]}" for name in RUNTIME]
        subprocess.run([*pip, str(base / "runtime"), *runtime], check=True)  # noqa: S603
        baseline = [f"{name}=={pins[name]}" for name in BASELINE]
        subprocess.run([*pip, str(base / "sdk"), "--no-compile", *baseline], check=True)  # noqa: S603
        layer = ["make", "-s", "-C", str(ROOT / "layers" / "forwarder"), "build-ForwarderLayer"]
        settings = [f"ARTIFACTS_DIR={base / 'layer'}", "PIP_PLATFORM=", f"PYTHON={sys.executable}"]
        subprocess.run([*layer, *settings], check=True)  # noqa: S603 - the project's own Makefile
        done.touch()
    return Deployed(base / "runtime", base / "layer" / "python", base / "sdk")
