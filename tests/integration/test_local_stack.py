"""`make local-stack` as an operator runs it: the real stack process, its banner, its log file, and the
commands it prints, run as printed."""

import json
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import urllib3
from botocore.config import Config
from botocore.exceptions import ClientError
from literals import ROOT, VALID

from devstack.sandbox import Sandbox

HTTP = urllib3.PoolManager(retries=False, timeout=5.0)
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(
        map(str, (ROOT, ROOT / "layers" / "forwarder", ROOT / "functions" / "forwarder"))
    ),
}
BANNER_SECONDS = 60.0
FUNCTION_LINE = re.compile(r'^\{.*"service":\s*"rokt-event-forwarder"', re.MULTILINE)


class Stack:
    """`python -m devstack.stack` on free ports, its stdout read line by line as it comes."""

    def __init__(self, log: Path, *argv: str) -> None:
        command = [sys.executable, "-m", "devstack.stack", "--aws-port", "0", "--api-port", "0"]
        command += ["--extension-port", "0", "--log", str(log), *argv]
        self.process = subprocess.Popen(command, env=ENV, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.banner = self._until("Ctrl-C stops it.")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put("")  # end of output

    def _until(self, last: str) -> str:
        lines, deadline = [], time.monotonic() + BANNER_SECONDS
        while not lines or lines[-1].strip() != last:
            line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.1))
            assert line, f"the stack ended before printing {last!r}: {''.join(lines)}"
            lines.append(line)
        return "".join(lines)

    def line(self, starting: str) -> str:
        [found] = [line.strip() for line in self.banner.splitlines() if line.strip().startswith(starting)]
        return found

    def stop(self) -> str:
        """Ctrl-C; what it printed after the banner."""
        self.process.send_signal(signal.SIGINT)
        assert self.process.wait(timeout=20) == 0
        rest = []
        while line := self._lines.get(timeout=5):
            rest.append(line)
        return "".join(rest)


@pytest.fixture
def stacks(tmp_path: Path) -> Iterator[list[Stack]]:
    started: list[Stack] = []
    yield started
    for stack in started:
        stack.process.kill()
        stack.process.wait()


def url_after(label: str, banner: str) -> str:
    found = re.search(rf"^{label}\s+(http://\S+)", banner, re.MULTILINE)
    assert found is not None, banner
    return found[1]


def basic(credentials: str) -> dict[str, str]:
    return {"Content-Type": "application/json", **urllib3.make_headers(basic_auth=credentials)}


def test_sandbox_args_reach_its_sandbox_urls_name_loopback_and_the_function_logs_to_the_file(
    tmp_path: Path, stacks: list[Stack]
) -> None:
    log = tmp_path / "stack.log"
    stack = Stack(log, "--host", "0.0.0.0", "--function", "--", "--api-key", "k", "--api-secret", "s")
    stacks.append(stack)
    assert "0.0.0.0" not in stack.banner
    assert stack.line("Logs").startswith(f"Logs              {log}")
    assert "make send-test" in stack.banner and "make check-credentials" in stack.banner
    api = url_after("Event API sandbox", stack.banner)
    assert api.startswith("http://127.0.0.1:")
    body = json.dumps([{"environment": "development", "events": []}]).encode()
    assert (
        HTTP.request(
            "POST", api + "/bulkevents", body=body, headers=basic("sandbox-key:sandbox-secret")
        ).status
        == 403
    )

    endpoint = url_after(r"AWS \(moto\)", stack.banner)
    queue_url = url_after("  queue", stack.banner)
    sqs = boto3.client(
        "sqs",
        config=Config(retries={"max_attempts": 1}),
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"customerid": "c-1", **VALID}))
    deadline = time.monotonic() + 30
    stats: dict[str, int] = {}
    while time.monotonic() < deadline and not (
        stats.get("batches_accepted") and FUNCTION_LINE.search(log.read_text())
    ):
        time.sleep(0.2)
        stats = HTTP.request("GET", api.removesuffix("/v2") + "/_sandbox/stats").json()
    assert stats["batches_accepted"] == 1, "the function authenticated with the secret's k/s: the sandbox's"
    assert FUNCTION_LINE.search(log.read_text()), "the function's output is in the log file"
    dlq = sqs.get_queue_attributes(
        QueueUrl=url_after("  dead-letter", stack.banner), AttributeNames=["QueueArn"]
    )
    with pytest.raises(ClientError):  # moto has no move task: it answers 500 and prints a traceback
        sqs.start_message_move_task(SourceArn=dlq["Attributes"]["QueueArn"])
    assert "start_message_move_task action has not been implemented" in log.read_text()
    after = stack.stop()
    assert not FUNCTION_LINE.search(after) and "Traceback" not in after, "nothing floods the terminal"


def test_the_printed_check_credentials_command_sees_a_rotated_secret(
    tmp_path: Path, stacks: list[Stack]
) -> None:
    """--no-sandbox points the stack at a sandbox run elsewhere; a rotation staged there is seen."""
    with Sandbox() as elsewhere:
        stack = Stack(tmp_path / "stack.log", "--no-sandbox", "--api-url", elsewhere.url)
        stacks.append(stack)
        assert f"Event API         {elsewhere.url}  (not started here: --no-sandbox)" in stack.banner
        assert f"export ROKT_API_URL={elsewhere.url}" in stack.banner
        *assignments, make, target, args = shlex.split(stack.line("AWS_ENDPOINT_URL="))
        assert (make, target) == ("make", "check-credentials")
        env = {**ENV, **dict(a.split("=", 1) for a in assignments)}
        command = [sys.executable, "-m", "ops.check_credentials", *shlex.split(args.removeprefix("ARGS="))]

        def check() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
            )

        accepted = check()
        assert (accepted.returncode, accepted.stdout[:3]) == (0, "OK:"), accepted.stderr
        rotated = {"api_key": "rotated-key", "api_secret": "rotated-secret"}
        reply = HTTP.request(
            "POST", elsewhere.url.removesuffix("/v2") + "/_sandbox/credentials", json=rotated
        )
        assert reply.status == 204
        refused = check()
        assert (refused.returncode, refused.stdout[:8]) == (1, "REFUSED:"), refused.stdout
        assert "refused (403)" in refused.stdout
        stack.stop()


def test_make_passes_sandbox_args_to_the_stacks_sandbox() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "local-stack", "STACK_ARGS=--function", "SANDBOX_ARGS=--p503 0.2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "-m devstack.stack --function -- --p503 0.2" in dry_run.stdout
