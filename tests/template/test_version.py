"""One version everywhere: the package's __version__ is the source, and every copy agrees with it."""

import datetime
import shutil
from pathlib import Path

import pytest
from literals import ROOT

import rokt_forwarder
from devstack import version
from devstack.template import load_template

FILES = ("layers/forwarder/rokt_forwarder/__init__.py", "template.yaml", "pyproject.toml", "CHANGELOG.md")


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """The files that hold the version, copied."""
    for name in FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_every_copy_agrees_with_the_source() -> None:
    assert version.problems() == []
    assert version.source_version() == rokt_forwarder.__version__
    template = load_template(ROOT / "template.yaml")
    assert template["Metadata"]["AWS::ServerlessRepo::Application"]["SemanticVersion"] == (
        rokt_forwarder.__version__
    )
    description = template["Resources"]["ForwarderLayer"]["Properties"]["Description"]
    assert description.startswith(f"rokt_forwarder {rokt_forwarder.__version__} ")


def test_the_changelog_keeps_an_unreleased_section_on_top() -> None:
    text = (ROOT / "CHANGELOG.md").read_text()
    assert "keepachangelog.com" in text
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[0] == version.UNRELEASED
    current = rokt_forwarder.__version__
    assert headings[1] == f"## [{current}] - {version.changelog_versions()[current]}"


def test_a_copy_that_drifted_is_named(clone: Path) -> None:
    template = clone / "template.yaml"
    template.write_text(template.read_text().replace("    SemanticVersion: ", "    SemanticVersion: 9", 1))
    current = version.source_version(clone)
    assert version.problems(clone) == [f"template.yaml: SemanticVersion is 9{current}, not {current}"]


def test_setting_a_version_writes_the_source_and_every_copy(clone: Path) -> None:
    major, minor, _ = map(int, version.source_version(clone).split("."))
    new = f"{major}.{minor + 1}.0"
    version.set_version(new, clone, today=lambda: datetime.date(2027, 1, 2))
    assert version.source_version(clone) == new
    assert version.problems(clone) == []
    assert [p.read(clone) for p in version.COPIES] == [new, new, new]
    changelog = (clone / "CHANGELOG.md").read_text()
    assert f"{version.UNRELEASED}\n\n## [{new}] - 2027-01-02\n" in changelog
    assert next(iter(version.changelog_versions(clone))) == new


@pytest.mark.parametrize("bad", ["0.0.1", "1.2", "v1.2.3", "01.2.3"])
def test_an_older_or_malformed_version_is_refused_and_nothing_written(clone: Path, bad: str) -> None:
    before = {name: (clone / name).read_text() for name in FILES}
    with pytest.raises(ValueError, match=r"not newer|not MAJOR\.MINOR\.PATCH"):
        version.set_version(bad, clone)
    assert {name: (clone / name).read_text() for name in FILES} == before


def test_a_place_that_cannot_be_found_stops_the_change_before_any_write(clone: Path) -> None:
    pyproject = clone / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "', 'version="', 1))
    changelog = (clone / "CHANGELOG.md").read_text()
    with pytest.raises(ValueError, match=r"pyproject\.toml"):
        version.set_version("99.0.0", clone)
    assert (clone / "CHANGELOG.md").read_text() == changelog
    assert version.source_version(clone) == rokt_forwarder.__version__


def test_make_version_checks_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert version.main([]) == 0
    assert capsys.readouterr().out == f"version {rokt_forwarder.__version__}: every copy agrees\n"
