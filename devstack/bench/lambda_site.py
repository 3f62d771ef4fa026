"""What a Lambda container can import, in one directory: the runtime's boto3 and the layer's dependencies.

The development virtualenv also holds awscrt, cryptography and pyOpenSSL (moto's and the SAM CLI's),
which botocore imports when it finds them: they would add ~100 ms and ~20 MB to every cold start and
hide the difference between forwarders. Benchmark children run with `python -S` (no site-packages)
on this directory instead. The SDK baseline's package is installed beside; ours never imports it.
"""

import hashlib
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from devstack.bench.contenders import ROOT

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
