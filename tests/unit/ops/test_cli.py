"""How every operator tool ends (ops/cli.py): Ctrl-C is one line and 130, errors one line and 2, and
--help shows the defaults; and `make help` names every target."""

import re
import subprocess
from pathlib import Path

import pytest
from literals import ROOT

from devstack import demo
from ops import cli, dlq, logs, send_test


def interrupted() -> int:
    raise KeyboardInterrupt


def test_an_interrupt_is_one_line_and_130(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.entry(interrupted)() == 130
    out, err = capsys.readouterr()
    assert (out, err) == ("", "interrupted\n")


def test_a_stop_is_one_error_line_and_its_status(capsys: pytest.CaptureFixture[str]) -> None:
    def stopped() -> int:
        raise cli.Stop("no stack: deploy first")

    assert cli.entry(stopped)() == 2
    assert capsys.readouterr().err == "ERROR: no stack: deploy first\n"


def test_no_region_stops_an_account_tool(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    assert logs.main(["--check-only"]) == 2
    assert capsys.readouterr().err == f"ERROR: {cli.NO_REGION}\n"


def test_ctrl_c_while_send_test_follows_is_not_a_verdict(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(send_test, "send", lambda *_: "message-1")
    monkeypatch.setattr(send_test, "follow", lambda *_, **__: interrupted())
    argv = ["--queue-url", "https://sqs.eu-west-1.amazonaws.com/1/q", "--function-name", "f"]
    assert send_test.main([*argv, "--region", "eu-west-1"]) == 130
    out, err = capsys.readouterr()
    assert "sent" in out
    assert "FAILED" not in out and "no outcome logged" not in out
    assert err == "interrupted\n"


def test_ctrl_c_in_logs_is_not_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subprocess, "run", lambda *_, **__: interrupted())
    assert logs.main(["--region", "eu-west-1"]) == 130
    out, err = capsys.readouterr()
    assert out.startswith("$ sam logs --cw-log-group /aws/lambda/rokt-event-forwarder-forwarder")
    assert err == "interrupted\n"


def test_ctrl_c_in_a_redrive_shows_what_moved_then_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(dlq.command, "redrive", lambda *_, **__: dlq.Moved(moved=3, interrupted=True))
    argv = [
        "--queue-url",
        "https://sqs.eu-west-1.amazonaws.com/1/q",
        "--dlq-url",
        "d",
        "--region",
        "eu-west-1",
    ]
    assert dlq.main([*argv, "redrive", "--journal", str(tmp_path / "journal.json")]) == 130
    out, err = capsys.readouterr()
    assert out == "moved 3 to https://sqs.eu-west-1.amazonaws.com/1/q; left 0 not selected\n"
    assert err == "interrupted\n"


@pytest.mark.parametrize(
    ("tool", "argv", "default"),
    [
        (send_test.main, ["--help"], "seconds to follow (default: 120.0)"),
        (dlq.main, ["--help"], "samconfig.toml environment (make ENV=prod) (default: default)"),
        (dlq.main, ["validate", "--help"], "RoktEnvironment (default: development)"),
    ],
)
def test_help_shows_the_defaults(
    tool: object, argv: list[str], default: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        tool(argv)  # type: ignore[operator]
    assert exit_.value.code == 0
    help_ = " ".join(capsys.readouterr().out.split())
    assert default in help_
    assert "(default: None)" not in help_ and "(default: False)" not in help_


def test_make_help_names_every_target() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = {t for line in re.findall(r"^\.PHONY:(.*)$", makefile, re.M) for t in line.split()}
    shown = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    named = set(re.findall(r"^make ([\w-]+)", shown, re.M))
    assert targets - {"help"} <= named, f"make help omits {sorted(targets - {'help'} - named)}"


def test_the_demo_ends_an_interrupt_the_same_way(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "run", lambda *_: interrupted())
    assert demo.main(["--messages", "1"]) == 130
    assert capsys.readouterr().err.endswith("\ninterrupted\n")
