"""The demo runs on the embedded stack only: it offers no real pod or queue, where it could not see what
the API accepted (a real pod's answers are not observable as the sandbox's are)."""

import pytest

from devstack import demo


@pytest.mark.parametrize("option", ["--pod", "--api-url", "--queue-url", "--dlq-url", "--secret-id"])
def test_real_targets_are_not_offered(option: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        demo.main([option, "x"])
    assert exit_.value.code == 2
    assert f"unrecognized arguments: {option} x" in capsys.readouterr().err
