"""`make release` on a clone of this tree: the real sam build and sam package, nothing uploaded.

The clone holds the working tree's files (committed or not) as one commit, with an origin on GitHub, so
what is tested is what would be released from here once committed.
"""

import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from samtranslator.translator.transform import transform
from support import ROOT

from devstack import release, version

PYTHON = sys.executable  # the virtualenv's python3.13, for sam build
BUCKET = "my-releases"
ORIGIN = "git@github.com:example/rokt-event-forwarder.git"
HOME = "https://github.com/example/rokt-event-forwarder"
METADATA = {
    *("Name", "Description", "Author", "SpdxLicenseId", "LicenseUrl", "ReadmeUrl", "Labels"),
    *("HomePageUrl", "SemanticVersion", "SourceCodeUrl"),
}
FORWARDER_REQUIREMENTS = "layers/forwarder/requirements.txt"
GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "init.defaultBranch=main"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=repo, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of this working tree as one commit, with a GitHub origin."""
    repo = tmp_path_factory.mktemp("clone") / "repo"
    listed = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "release candidate")
    git(repo, "remote", "add", "origin", ORIGIN)
    return repo


@pytest.fixture
def clone(pristine: Path, tmp_path: Path) -> Path:
    """A copy of the clone a test may change."""
    return Path(shutil.copytree(pristine, tmp_path / "repo", symlinks=True))


def run(repo: Path, dist: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    argv = ["--root", str(repo), "--s3-bucket", BUCKET, "--dist", str(dist), "--python", PYTHON, *extra]
    status = release.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def built(pristine: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, Path]:
    """The release of the clone: its status, what it printed, and where it went."""
    dist = tmp_path_factory.mktemp("dist")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = release.main(
            ["--root", str(pristine), "--s3-bucket", BUCKET, "--dist", str(dist), "--python", PYTHON]
        )
    return status, printed.getvalue(), dist


@pytest.fixture(scope="module")
def folder(built: tuple[int, str, Path], pristine: Path) -> Path:
    status, _, dist = built
    assert status == 0
    return dist / f"rokt-event-forwarder-{version.source_version(pristine)}"


@pytest.fixture(scope="module")
def packaged(folder: Path) -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load((folder / "packaged.yaml").read_text())
    return found


def artifact(folder: Path, uri: str) -> Path:
    assert uri.startswith(f"s3://{BUCKET}/rokt-event-forwarder/"), uri
    return folder / "artifacts" / uri.removeprefix(f"s3://{BUCKET}/")


def test_the_folder_holds_the_packaged_template_its_artifacts_the_layer_and_checksums(
    folder: Path, packaged: dict[str, Any], pristine: Path
) -> None:
    current = version.source_version(pristine)
    assert sorted(p.name for p in folder.iterdir()) == [
        "SHA256SUMS",
        "artifacts",
        "packaged.yaml",
        f"rokt-forwarder-layer-{current}-python3.13-arm64.zip",
    ]
    uris = set(release.s3_uris(packaged))
    assert len(uris) == 5, "function, two layers, licence, readme"
    for uri in uris:
        assert artifact(folder, uri).is_file(), uri
        assert f"/rokt-event-forwarder/{current}/" in uri
    versioned = folder / "artifacts" / "rokt-event-forwarder" / current / "template.yaml"
    assert versioned.read_bytes() == (folder / "packaged.yaml").read_bytes(), "a versioned template URL"
    uploads = {p for p in (folder / "artifacts").rglob("*") if p.is_file()}
    assert uploads == {artifact(folder, u) for u in uris} | {versioned}
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name


def test_the_packaged_template_carries_every_sar_field_and_its_files(
    folder: Path, packaged: dict[str, Any], pristine: Path
) -> None:
    application = packaged["Metadata"]["AWS::ServerlessRepo::Application"]
    assert set(application) == METADATA
    assert application["HomePageUrl"] == application["SourceCodeUrl"] == HOME, "from the origin"
    assert application["SemanticVersion"] == version.source_version(pristine)
    assert artifact(folder, application["LicenseUrl"]).read_bytes() == (pristine / "LICENSE").read_bytes()
    assert artifact(folder, application["ReadmeUrl"]).read_bytes() == (pristine / "README.md").read_bytes()


def test_the_layer_zip_is_the_layer_the_template_deploys_and_says_its_version(
    folder: Path, packaged: dict[str, Any], pristine: Path
) -> None:
    current = version.source_version(pristine)
    layer = packaged["Resources"]["ForwarderLayer"]["Properties"]
    assert layer["Description"].startswith(f"rokt_forwarder {current} ")
    zipped = folder / f"rokt-forwarder-layer-{current}-python3.13-arm64.zip"
    assert zipped.read_bytes() == artifact(folder, layer["ContentUri"]).read_bytes()
    with zipfile.ZipFile(zipped) as archive:
        names = set(archive.namelist())
        assert f'__version__ = "{current}"' in archive.read("python/rokt_forwarder/__init__.py").decode()
    assert "python/rokt_forwarder/__pycache__/invocation.cpython-313.pyc" in names, "compiled"
    assert not [n for n in names if n.startswith("python/devstack/")]
    function = packaged["Resources"]["ForwarderFunction"]["Properties"]
    with zipfile.ZipFile(artifact(folder, function["CodeUri"])) as archive:
        assert "app.py" in archive.namelist()


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def test_the_packaged_template_lints_and_transforms_as_cloudformation_would(folder: Path) -> None:
    template = folder / "packaged.yaml"
    lint = subprocess.run(
        [str(Path(PYTHON).parent / "cfn-lint"), str(template)], capture_output=True, text=True, check=False
    )
    assert lint.returncode == 0, lint.stdout
    parameters = {"RoktSecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rokt-AbC123"}
    with mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": "eu-west-1"}):
        translated = transform(yaml.safe_load(template.read_text()), parameters, _NoManagedPolicies())  # type: ignore[arg-type]
    code = [
        r["Properties"].get("Content") or r["Properties"].get("Code")
        for r in translated["Resources"].values()
        if r["Type"] in ("AWS::Lambda::LayerVersion", "AWS::Lambda::Function")
    ]
    assert len(code) == 3, "the function and its two layers"
    assert all(c["S3Bucket"] == BUCKET and c["S3Key"].startswith("rokt-event-forwarder/") for c in code)


def test_it_says_what_to_upload_publish_and_tag(built: tuple[int, str, Path], folder: Path) -> None:
    _, printed, _ = built
    current = folder.name.removeprefix("rokt-event-forwarder-")
    shown = os.path.relpath(folder)
    assert printed.splitlines()[-3:] == [
        f"  aws s3 cp --recursive {shown}/artifacts s3://{BUCKET}/",
        f"  sam publish --template {shown}/packaged.yaml --region <the bucket's region>",
        f"  git tag -a v{current} -m 'rokt-event-forwarder {current}' && git push origin v{current}",
    ]


Change = Callable[[Path], None]


def dirty(repo: Path) -> None:
    (repo / "README.md").write_text((repo / "README.md").read_text() + "\nlocal edit\n")


def untracked(repo: Path) -> None:
    (repo / "layers/forwarder/rokt_forwarder/stray.py").write_text("x = 1\n")


def tagged(repo: Path) -> None:
    git(repo, "tag", f"v{version.source_version(repo)}")


def drifted(repo: Path) -> None:
    template = repo / "template.yaml"
    template.write_text(template.read_text().replace("    SemanticVersion: ", "    SemanticVersion: 9", 1))
    git(repo, "commit", "-q", "-am", "drift")


def local_origin(repo: Path) -> None:
    git(repo, "remote", "set-url", "origin", "/srv/git/rokt-event-forwarder")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (dirty, "the working tree has 1 uncommitted change(s), e.g. 'M README.md'"),
        (untracked, "uncommitted change(s), e.g. '?? layers/forwarder/rokt_forwarder/stray.py'"),
        (tagged, "is already released (tag v"),
        (drifted, "the version's copies disagree: template.yaml: SemanticVersion is 9"),
        (local_origin, "no public source URL (origin is '/srv/git/rokt-event-forwarder')"),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_a_release_is_refused_in_one_line_and_builds_nothing(
    clone: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: Change, reason: str
) -> None:
    change(clone)
    dist = tmp_path / "dist"
    status, out, err = run(clone, dist, capsys)
    assert status == 1
    assert out == ""
    (line,) = err.splitlines()
    assert line.startswith("REFUSED: ")
    assert reason in line
    assert not dist.exists()


def test_a_version_already_built_is_refused(
    clone: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    current = version.source_version(clone)
    existing = tmp_path / "dist" / f"rokt-event-forwarder-{current}"
    existing.mkdir(parents=True)
    status, _, err = run(clone, tmp_path / "dist", capsys)
    assert status == 1
    assert err == f"REFUSED: {existing} exists: {current} was already built; remove it to build again\n"


def test_a_given_source_url_stands_in_for_a_private_origin(
    clone: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    local_origin(clone)
    assert (
        release.source_url(clone, "https://example.org/code/forwarder")
        == "https://example.org/code/forwarder"
    )
    status, _, err = run(clone, tmp_path / "dist", capsys, "--source-url", "http://example.org/x")
    assert (status, err) == (1, "REFUSED: SOURCE_URL 'http://example.org/x' is not an https URL\n")


def test_a_bucket_name_s3_would_refuse_is_refused_first(
    clone: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = release.main(["--root", str(clone), "--s3-bucket", "My_Bucket", "--dist", str(tmp_path)])
    assert status == 1
    assert capsys.readouterr().err == "REFUSED: S3_BUCKET 'My_Bucket' is not an S3 bucket name\n"


@pytest.mark.parametrize(
    ("remote", "url"),
    [
        ("git@github.com:example/rokt-event-forwarder.git", HOME),
        ("https://github.com/example/rokt-event-forwarder.git", HOME),
        ("https://token@github.com/example/rokt-event-forwarder", HOME),
        ("ssh://git@github.com:22/example/rokt-event-forwarder.git", HOME),
        ("/srv/git/rokt-event-forwarder", None),
        ("file:///srv/git/rokt-event-forwarder", None),
    ],
)
def test_an_origin_becomes_its_https_page(remote: str, url: str | None) -> None:
    assert release.https_url(remote) == url


def test_make_release_needs_a_bucket_and_passes_the_settings() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL")}
    # As the Makefile names it: -o keeps make from rebuilding the virtualenv for a dry run.
    requirements = b"".join((ROOT / n).read_bytes() for n in ("requirements-dev.txt", FORWARDER_REQUIREMENTS))
    checksum = subprocess.run(["cksum"], input=requirements, capture_output=True, check=True).stdout.split()[
        0
    ]
    never_rebuild = ["-o", f".venv/.installed-{checksum.decode()}"]
    command = ["make", "-n", *never_rebuild, "release", "S3_BUCKET=my-releases", "SOURCE_URL=https://x.org/y"]
    shown = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
    assert '-m devstack.release --s3-bucket "my-releases" --s3-prefix "rokt-event-forwarder"' in shown
    assert '--source-url "https://x.org/y"' in shown
    missing = subprocess.run(
        ["make", *never_rebuild, "release"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert missing.returncode != 0
    assert "make release S3_BUCKET=..." in missing.stderr
