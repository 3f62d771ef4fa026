"""What every benchmark runs against: moto (here), the sandbox (its own process), the Secrets extension.

The sandbox gets its own process, as the real API is elsewhere: its CPU is not charged to the
forwarder's process, and `cpu_seconds()` shows whether it is what limits a run.
"""

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from bench import lambda_site
from bench.contenders import ROOT
from devstack.embedded_aws import EmbeddedAws
from devstack.sandbox import SandboxConfig
from devstack.secrets_extension import PORT_VARIABLE, SecretsExtension
from devstack.service import Service
from devstack.template import StackSettings

_CREDENTIALS = SandboxConfig()
_LISTENING = re.compile(r"listening on (\S+)")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Variables a child must not inherit: they would switch the secret path or the log volume.
_NOT_INHERITED = (PORT_VARIABLE, "AWS_SESSION_TOKEN", "AWS_PROFILE", "POWERTOOLS_LOG_LEVEL")


def python_path() -> str:
    return os.pathsep.join(str(ROOT / p) for p in ("", "layers/forwarder", "functions/forwarder"))


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    """os.environ for a benchmark child: our import path, the stack's settings, nothing stray."""
    base = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    return {**base, "PYTHONPATH": python_path(), **extra}


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (and its reaped children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / _CLOCK_TICKS


class MachineCpu:
    """Share of all cores busy between two readings of /proc/stat: tells a saturated run apart."""

    def __init__(self) -> None:
        self._busy, self._total = self._read()

    @staticmethod
    def _read() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values) - idle, sum(values)

    def busy_share(self) -> float:
        busy, total = self._read()
        share = (busy - self._busy) / max(total - self._total, 1)
        self._busy, self._total = busy, total
        return share


class SandboxProcess(Service):
    """`python -m devstack.sandbox --port 0` in a child process, with the given flags."""

    def __init__(self, *flags: str) -> None:
        self._flags = flags
        self._process: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> Self:
        command = [sys.executable, "-m", "devstack.sandbox", "--port", "0", "--quiet", *self._flags]
        self._process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            command, stdout=subprocess.PIPE, text=True, env=child_environment({})
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not (found := _LISTENING.search(line)):
            self.stop()
            raise RuntimeError(f"the sandbox did not start: {line!r}")
        self.url = found.group(1)
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the sandbox is not running")
        return self._process.pid

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self._admin("stats"), timeout=10) as response:  # noqa: S310 - loopback
            stats: dict[str, Any] = json.loads(response.read())
        return stats

    def reset(self) -> None:
        request = urllib.request.Request(self._admin("reset"), method="POST")  # noqa: S310 - loopback
        urllib.request.urlopen(request, timeout=10).close()  # noqa: S310

    def _admin(self, name: str) -> str:
        return f"{self.url.removesuffix('/v2')}/_sandbox/{name}"


class BenchStack(Service):
    """moto with the template's queue, DLQ and secret; the sandbox; the Secrets extension stand-in."""

    def __init__(self, *sandbox_flags: str) -> None:
        settings = StackSettings.from_template(ROOT / "template.yaml")
        self.aws = EmbeddedAws(settings, _CREDENTIALS.api_key, _CREDENTIALS.api_secret)
        self.sandbox = SandboxProcess(*sandbox_flags)
        self.extension: SecretsExtension | None = None

    def start(self) -> Self:
        self.aws.start()
        self.sandbox.start()
        self.extension = SecretsExtension(self.aws.client("secretsmanager")).start()
        return self

    def stop(self) -> None:
        if self.extension is not None:
            self.extension.stop()
        self.sandbox.stop()
        self.aws.stop()

    def environment(self, *, extension: bool = False) -> dict[str, str]:
        """A Lambda container's variables; `extension` as if the extension layer were attached."""
        env = {
            **self.aws.environment(),
            "ROKT_API_URL": self.sandbox.url,
            "POWERTOOLS_SERVICE_NAME": "rokt-event-forwarder",
            # This sandbox has no rate limit: measure the forwarder's own work, not its pacing (which
            # make bench-rate measures against a limited sandbox).
            "ROKT_MAX_BATCHES_PER_SECOND": "0",
        }
        if extension:
            if self.extension is None:
                raise RuntimeError("the stack is not started")
            env |= self.extension.environment()
        return env

    def extension_requests(self) -> int:
        return self.extension.requests if self.extension is not None else 0


def run_child(
    module: str,
    args: list[str],
    env: dict[str, str],
    *,
    python_flags: tuple[str, ...] = (),
    deployed: Sequence[Path] = (),
) -> dict[str, Any]:
    """Run `python -S -m module args --out FILE` on the Lambda-like import path; its JSON and stderr.

    With `deployed` (lambda_site.Deployed.path), the contender's code comes from those directories
    only, and no bytecode is written, as in Lambda's read-only code directories. Its stdout (the
    handler's logs) is dropped.
    """
    if deployed:
        # The repository (bench/, devstack/) and the entry point app.py.
        harness = [str(ROOT), str(ROOT / "functions" / "forwarder")]
        path = os.pathsep.join([*map(str, deployed), *harness])
        env = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
    else:
        path = os.pathsep.join([str(lambda_site.ensure()), python_path()])
    with tempfile.TemporaryDirectory() as directory:
        out = Path(directory) / "result.json"
        command = [sys.executable, "-S", *python_flags, "-m", module, *args, "--out", str(out)]
        done = subprocess.run(  # noqa: S603 - our own module
            command,
            env=child_environment({**env, "PYTHONPATH": path}),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{module} {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return {"result": json.loads(out.read_text()), "stderr": done.stderr}


@dataclass(frozen=True, slots=True)
class Machine:
    arch: str
    cores: int
    cpu: str
    python: str
    date: str

    @classmethod
    def this(cls) -> "Machine":
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor() or "unknown",
        )
        return cls(
            arch=platform.machine(),
            cores=os.cpu_count() or 1,
            cpu=model,
            python=platform.python_version(),
            date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )

    def __str__(self) -> str:
        return f"{self.arch}, {self.cores} cores ({self.cpu}), Python {self.python}, {self.date}"
