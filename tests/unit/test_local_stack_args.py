"""The local stack's command line: what reaches the sandbox, and the hosts its URLs name."""

import pytest

from devstack.sandbox import options
from devstack.service import url_host
from devstack.stack import main as stack_main
from devstack.stack import split_args


@pytest.mark.parametrize(
    ("argv", "stack", "sandbox"),
    [
        (["--function"], ["--function"], []),
        (["--function", "--"], ["--function"], []),  # make's empty SANDBOX_ARGS
        (["--", "--p503", "1"], [], ["--p503", "1"]),
        (
            ["--host", "0.0.0.0", "--", "--outage", "0-60", "--", "x"],
            ["--host", "0.0.0.0"],
            ["--outage", "0-60", "--", "x"],
        ),
    ],
)
def test_what_follows_the_first_double_dash_is_the_sandboxs(
    argv: list[str], stack: list[str], sandbox: list[str]
) -> None:
    assert split_args(argv) == (stack, sandbox)


def test_the_stacks_settings_are_defaults_the_sandbox_options_override() -> None:
    config = options(["--port", "9000", "--p503", "0.5"], host="0.0.0.0", port=8000, log_requests=False)
    assert (config.host, config.port, config.p503, config.log_requests) == ("0.0.0.0", 9000, 0.5, False)
    assert options([], port=8000).port == 8000


def test_a_wrong_sandbox_option_exits_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        options(["--p503", "2"], prog="make local-stack SANDBOX_ARGS=...")
    assert exited.value.code == 2
    assert "fault probabilities must be between 0 and 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("bound", "named"),
    [("0.0.0.0", "127.0.0.1"), ("", "127.0.0.1"), ("127.0.0.1", "127.0.0.1"), ("192.0.2.7", "192.0.2.7")],
)
def test_urls_name_loopback_for_a_server_bound_to_every_interface(bound: str, named: str) -> None:
    assert url_host(bound) == named


def test_an_api_url_without_no_sandbox_exits_2_before_anything_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        stack_main(["--api-url", "http://127.0.0.1:9/v2"])
    assert exited.value.code == 2
    assert "give --no-sandbox with it" in capsys.readouterr().err
