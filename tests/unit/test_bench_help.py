"""The benchmark commands' --help: what each option does and the value it takes when not given."""

import pytest

from bench.__main__ import main


@pytest.mark.parametrize(
    ("command", "shown"),
    [
        ([], "(default: cpu,cold,memory)"),
        (["rate"], "(default: all)"),
        (["outage"], "(default: 1,24,36)"),
    ],
    ids=["make bench", "make bench-rate", "make bench-outage"],
)
def test_help_shows_each_default(command: list[str], shown: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    assert shown in " ".join(capsys.readouterr().out.split())
