"""`make release`: the packaged template and the artefacts of this version, in a folder, ready to upload.

    make release S3_BUCKET=my-releases [S3_PREFIX=rokt-event-forwarder] [SOURCE_URL=https://...]

It refuses, one line each: a working tree with uncommitted changes, a version already released
(its tag v<version> exists, or its folder does), a copy of the version that disagrees with
rokt_forwarder.__version__ (make version), and a clone without a public source URL. Then it builds
the committed tree (git archive HEAD, so nothing uncommitted can slip in) with `sam build`, and runs
the real `sam package` against a stand-in bucket of the same name on an in-process moto server: no
AWS account is needed, nothing is uploaded, and the packaged template names exactly the S3 objects
the folder holds:

    dist/rokt-event-forwarder-<version>/
      packaged.yaml                                 publish it (sam publish) or deploy it
      artifacts/<prefix>/<version>/<hash>           upload to s3://<bucket>/ as they are
      artifacts/<prefix>/<version>/template.yaml    packaged.yaml again: a versioned template URL
      rokt-forwarder-layer-<version>-python3.13-arm64.zip   the layer (also among the artifacts)
      SHA256SUMS

The template gains HomePageUrl and SourceCodeUrl: SOURCE_URL, else the clone's origin as https.
"""

import argparse
import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import yaml
from moto.server import ThreadedMotoServer

from devstack import version
from ops.samconfig import ROOT

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

APPLICATION = "rokt-event-forwarder"
LAYER = "ForwarderLayer"
TEMPLATE = "template.yaml"  # packaged.yaml, as uploaded
DEFAULT_PREFIX = APPLICATION
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html (the common subset)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX = re.compile(r"[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*")
_SCP_REMOTE = re.compile(r"(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)")
_STAND_IN_REGION = "us-east-1"
_STAND_IN_CREDENTIALS = "release"  # moto takes any; real ones are never read


class Refused(Exception):
    """A reason not to release, as the one line the tool prints."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where the artefacts will be uploaded, and the repository's page (None: the origin's)."""

    bucket: str
    prefix: str = DEFAULT_PREFIX
    source_url: str | None = None


@dataclass(frozen=True, slots=True)
class Tools:
    python: str  # sam build needs python3.13 on PATH
    sam: Path


def git(root: Path, *args: str, check: bool = True) -> str:
    """Git's output; a failure is Refused, or "" when not `check`ed (a missing remote, say)."""
    result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)  # noqa: S603, S607
    if result.returncode and check:
        raise Refused(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return "" if result.returncode else result.stdout


def https_url(remote: str) -> str | None:
    """A git remote as the https URL of its repository page, or None (a local path, say)."""
    remote = remote.strip().removesuffix("/").removesuffix(".git")
    if match := re.fullmatch(r"(?:https|ssh|git)://(?:[^@/]+@)?([^/:]+)(?::\d+)?/(.+)", remote):
        return f"https://{match.group(1)}/{match.group(2)}"
    if "://" not in remote and (match := _SCP_REMOTE.fullmatch(remote)):
        return f"https://{match.group('host')}/{match.group('path')}"
    return None


def source_url(root: Path, given: str | None) -> str:
    if given:
        if not re.fullmatch(r"https://[^\s/]+/\S+", given):
            raise Refused(f"SOURCE_URL {given!r} is not an https URL")
        return given
    remote = git(root, "remote", "get-url", "origin", check=False)
    url = https_url(remote) if remote else None
    if url is None:
        where = f"origin is {remote.strip()!r}" if remote else "this clone has no origin"
        raise Refused(f"no public source URL ({where}): give SOURCE_URL=https://... (the repository's page)")
    return url


def check(root: Path, out: Path) -> str:
    """The version to release; Refused with the first reason not to."""
    problems = version.problems(root)
    if problems:
        raise Refused(f"the version's copies disagree: {problems[0]} (make version)")
    current = version.source_version(root)
    dirty = git(root, "status", "--porcelain", "--untracked-files=normal").splitlines()
    if dirty:
        raise Refused(
            f"the working tree has {len(dirty)} uncommitted change(s), e.g. {dirty[0].strip()!r}: "
            "a release is built from a commit"
        )
    if git(root, "tag", "--list", f"v{current}").strip():
        raise Refused(f"{current} is already released (tag v{current}): make version VERSION=<next> first")
    if out.exists():
        raise Refused(f"{out} exists: {current} was already built; remove it to build again")
    return current


def with_urls(template: str, url: str) -> str:
    """The template with HomePageUrl and SourceCodeUrl after SemanticVersion, unless it has them."""
    if re.search(r"^    (HomePageUrl|SourceCodeUrl):", template, re.M):
        return template
    lines = f"    HomePageUrl: {url}\n    SourceCodeUrl: {url}\n"
    new, count = re.subn(r"^(    SemanticVersion: .+\n)", lambda m: m.group(1) + lines, template, flags=re.M)
    if count != 1:
        raise Refused("template.yaml: no single SemanticVersion line in its AWS::ServerlessRepo::Application")
    return new


def export(root: Path, into: Path) -> None:
    """The committed tree of HEAD, extracted: what is released is exactly a commit."""
    archive = into.with_suffix(".tar")
    with archive.open("wb") as stream:
        subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=root, stdout=stream, check=True)  # noqa: S607
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    archive.unlink()


def s3_uris(node: Any) -> Iterator[str]:
    if isinstance(node, str) and node.startswith("s3://"):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from s3_uris(value)
    elif isinstance(node, list):
        for value in node:
            yield from s3_uris(value)


def package(built: Path, bucket: str, prefix: str, out: Path, sam: Path) -> dict[str, Any]:
    """`sam package` into a stand-in bucket; every object it wrote, downloaded under out/artifacts."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        s3: S3Client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=_STAND_IN_REGION,
            aws_access_key_id=_STAND_IN_CREDENTIALS,
            aws_secret_access_key=_STAND_IN_CREDENTIALS,
        )
        s3.create_bucket(Bucket=bucket)
        # None of the user's AWS configuration: the stand-in only, so nothing can reach AWS.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env |= {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": _STAND_IN_CREDENTIALS,
            "AWS_SECRET_ACCESS_KEY": _STAND_IN_CREDENTIALS,
            "AWS_DEFAULT_REGION": _STAND_IN_REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "SAM_CLI_TELEMETRY": "0",
        }
        packaged = out / "packaged.yaml"
        command = [str(sam), "package", "--template-file", str(built / "template.yaml")]
        command += ["--s3-bucket", bucket, "--s3-prefix", prefix, "--output-template-file", str(packaged)]
        result = subprocess.run(command, cwd=built, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode:
            raise Refused(f"sam package failed: {result.stderr.strip()[-2000:]}")
        template: dict[str, Any] = yaml.safe_load(packaged.read_text(encoding="utf-8"))
        for uri in sorted(set(s3_uris(template))):
            key = uri.removeprefix(f"s3://{bucket}/")
            if key == uri:
                raise Refused(f"packaged.yaml names {uri}, outside s3://{bucket}/")
            target = out / "artifacts" / key
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(target))
        return template
    finally:
        server.stop()


def layer_zip(template: dict[str, Any], bucket: str, out: Path, current: str) -> Path:
    uri = template["Resources"][LAYER]["Properties"]["ContentUri"]
    properties = template["Resources"][LAYER]["Properties"]
    (runtime,) = properties["CompatibleRuntimes"]
    (architecture,) = properties["CompatibleArchitectures"]
    path = out / f"rokt-forwarder-layer-{current}-{runtime}-{architecture}.zip"
    shutil.copyfile(out / "artifacts" / uri.removeprefix(f"s3://{bucket}/"), path)
    return path


def checksums(out: Path) -> None:
    files = sorted(p for p in out.rglob("*") if p.is_file())
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(out)}\n" for p in files]
    (out / "SHA256SUMS").write_text("".join(lines), encoding="utf-8")


def release(root: Path, target: Target, dist: Path, tools: Tools) -> tuple[str, Path, str]:
    """Build the release folder: its version, its path and the layer zip's name.

    Refused, and no folder, when it must not be built.
    """
    if not _BUCKET.fullmatch(target.bucket) or ".." in target.bucket:
        raise Refused(f"S3_BUCKET {target.bucket!r} is not an S3 bucket name")
    if not _PREFIX.fullmatch(target.prefix):
        raise Refused(f"S3_PREFIX {target.prefix!r} is not a plain key prefix")
    out = dist / f"{APPLICATION}-{version.source_version(root)}"
    current = check(root, out)
    home = source_url(root, target.source_url)
    with tempfile.TemporaryDirectory(prefix="release-") as work:
        source = Path(work) / "source"
        source.mkdir()
        export(root, source)
        template = source / "template.yaml"
        template.write_text(with_urls(template.read_text(encoding="utf-8"), home), encoding="utf-8")
        built = Path(work) / "build"
        path = f"{Path(tools.python).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        env = {**os.environ, "PATH": path, "SAM_CLI_TELEMETRY": "0"}
        command = [str(tools.sam), "build", "--template", str(template), "--build-dir", str(built)]
        result = subprocess.run(command, cwd=source, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode:
            raise Refused(f"sam build failed: {(result.stderr or result.stdout).strip()[-2000:]}")
        staging = Path(work) / "out"
        staging.mkdir()
        packaged = package(built, target.bucket, f"{target.prefix}/{current}", staging, tools.sam)
        layer = layer_zip(packaged, target.bucket, staging, current).name
        # Uploaded with the rest: a versioned template URL for CloudFormation (no SAR needed).
        shutil.copyfile(staging / "packaged.yaml", staging / "artifacts" / target.prefix / current / TEMPLATE)
        checksums(staging)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staging, out)  # whole or not at all: a failed build leaves no folder
    return current, out, layer


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.release",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--s3-bucket", required=True, help="the bucket the artefacts will be uploaded to")
    parser.add_argument("--s3-prefix", default=DEFAULT_PREFIX, help="key prefix (the version is appended)")
    parser.add_argument("--source-url", help="the repository's https page (default: the clone's origin)")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="where the release folder goes")
    parser.add_argument("--python", default=shutil.which("python3.13"), help="the python3.13 for sam build")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.python or not Path(args.python).is_file():
        print("REFUSED: sam build needs python3.13 (make release PYTHON313=/path/to/it)", file=sys.stderr)
        return 1
    target = Target(args.s3_bucket, args.s3_prefix, args.source_url)
    tools = Tools(args.python, Path(sys.executable).parent / "sam")
    try:
        current, out, layer = release(args.root, target, args.dist, tools)
    except Refused as reason:
        print(f"REFUSED: {reason}", file=sys.stderr)
        return 1
    shown = os.path.relpath(out)
    uploaded = f"s3://{target.bucket}/{target.prefix}/{current}/"
    print(f"Release {current} in {shown}/, packaged for {uploaded}:")
    print("  packaged.yaml  the template: publish it (Serverless Application Repository) or deploy it")
    print(f"  artifacts/     what packaged.yaml names, and it as {TEMPLATE}: upload to s3://{target.bucket}/")
    print(f"  {layer}  the layer")
    print("  SHA256SUMS")
    print("Next (docs/operations.md: Releases):")
    for step in next_steps(shown, target.bucket, current):
        print(f"  {step}")
    return 0


def next_steps(folder: str, bucket: str, current: str) -> list[str]:
    """Upload, publish, tag: what docs/operations.md's Releases shows too."""
    return [
        f"aws s3 cp --recursive {folder}/artifacts s3://{bucket}/",
        f"sam publish --template {folder}/packaged.yaml --region <the bucket's region>",
        f"git tag -a v{current} -m 'rokt-event-forwarder {current}' && git push origin v{current}",
    ]


if __name__ == "__main__":
    sys.exit(main())
