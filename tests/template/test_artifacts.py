"""`sam build` output: the layer ships the runtime package and its dependencies, nothing from
devstack/, ops/ or bench/.

Built once per run into a temporary directory, with the SAM CLI and Python 3.13 of the virtualenv.
"""

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from literals import ROOT

PACKAGE = ROOT / "layers" / "forwarder" / "rokt_forwarder"
# What the layer may hold besides rokt_forwarder: its requirements and theirs (boto3 is in the runtime).
DISTRIBUTIONS = {"aws_lambda_powertools", "urllib3", "jmespath", "typing_extensions", "orjson"}
TRACING_DISTRIBUTIONS = {"aws_xray_sdk", "wrapt"}
# Compiled distributions of the layer: built for the function's architecture (arm64), not this host's.
COMPILED = ("orjson",)
DEV_ONLY_IMPORTS = {"moto", "yaml", "werkzeug", "devstack", "ops", "bench", "http.server", "pytest"}
# The Lambda runtime's own boto3, for importing the artifact with nothing else from the virtualenv.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "dateutil", "six.py")


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sam-build")
    bin_dir = Path(sys.executable).parent  # sam, and the python3.13 that `sam build` asks for
    subprocess.run(
        [str(bin_dir / "sam"), "build", "--template", "template.yaml", "--build-dir", str(out)],
        cwd=ROOT,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0"},
        check=True,
        capture_output=True,
    )
    return out


def modules(directory: Path) -> set[str]:
    return {
        str(p.relative_to(directory))
        for p in directory.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_layer_holds_the_runtime_package_exactly_as_in_the_repository(build: Path) -> None:
    built = build / "ForwarderLayer" / "python" / "rokt_forwarder"
    assert modules(built) == modules(PACKAGE)


def test_the_layer_holds_only_the_runtime_dependencies(build: Path) -> None:
    python = build / "ForwarderLayer" / "python"
    installed = {p.name.split("-")[0].lower() for p in python.glob("*.dist-info")}
    assert installed == DISTRIBUTIONS
    assert not {"moto", "yaml", "werkzeug", "boto3", "botocore"} & {p.name for p in python.iterdir()}


def test_every_module_of_the_layer_ships_compiled_for_python_3_13(build: Path) -> None:
    # Lambda's code directories are read-only: what is not compiled here is compiled at every cold start.
    python = build / "ForwarderLayer" / "python"
    sources = [p for p in python.rglob("*.py") if "__pycache__" not in p.parts]
    assert len(sources) > 100
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.{sys.implementation.cache_tag}.pyc"
        header = compiled.read_bytes()[:8]
        assert header[:4] == importlib.util.MAGIC_NUMBER, source
        # PEP 552 flags: hash-based (1) and not checked against the source (no 2): no timestamp matters.
        assert int.from_bytes(header[4:8], "little") == 1, source


def test_compiled_dependencies_are_the_arm64_wheels(build: Path) -> None:
    python = build / "ForwarderLayer" / "python"
    for name in COMPILED:
        (wheel,) = python.glob(f"{name}-*.dist-info/WHEEL")
        lines = wheel.read_text().splitlines()
        tags = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Tag:")]
        assert tags and all(tag.startswith("cp313-") and tag.endswith("_aarch64") for tag in tags), tags


def test_no_module_of_the_artifacts_imports_dev_only_code(build: Path) -> None:
    sources = [*(build / "ForwarderLayer" / "python" / "rokt_forwarder").rglob("*.py")]
    sources += [*(build / "ForwarderFunction").rglob("*.py")]
    assert sources
    for source in sources:
        dev = {
            name
            for name in imported(source)
            if name.split(".")[0] in DEV_ONLY_IMPORTS or name in DEV_ONLY_IMPORTS
        }
        assert not dev, f"{source.name} imports {dev}"


def test_the_tracing_layer_holds_the_xray_sdk_and_not_botocore(build: Path) -> None:
    python = build / "TracingLayer" / "python"
    installed = {p.name.split("-")[0].lower() for p in python.glob("*.dist-info")}
    assert installed == TRACING_DISTRIBUTIONS, "botocore comes from the runtime: a second would shadow it"


def cold_start(build: Path, tmp_path: Path, probe: str, *, tracing: bool = False) -> str:
    """Run `probe` with the artifacts on the path as Lambda lays them out, and the runtime's boto3."""
    site = Path(boto3.__file__).parents[1]
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PACKAGES:
        (runtime / name).symlink_to(site / name)
    # The layer's compiled packages are arm64 builds: this host's builds of the same version stand in.
    host = tmp_path / "host"
    host.mkdir()
    for name in COMPILED:
        (host / name).symlink_to(site / name)
    paths = [build / "ForwarderFunction", host, build / "ForwarderLayer" / "python", runtime]
    if tracing:
        paths.insert(3, build / "TracingLayer" / "python")
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join(map(str, paths)),
        "ROKT_SECRET_ID": "rokt-event-api",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # refused at once: the cold-start secret read fails fast
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_SERVICE_NAME": "artifact-test",
        "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
    }
    # -S: no site-packages, so nothing of the virtualenv (moto, PyYAML, devstack) can be found.
    result = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


XRAY_LOADED = "import sys, app; print(app.lambda_handler.__name__, 'aws_xray_sdk' in sys.modules)"


def test_the_function_cold_starts_from_the_artifacts_with_only_the_runtime_boto3(
    build: Path, tmp_path: Path
) -> None:
    assert cold_start(build, tmp_path, XRAY_LOADED) == "lambda_handler False", "no X-Ray SDK when off"


def test_with_tracing_on_the_handler_is_traced_with_the_layer_s_xray_sdk(build: Path, tmp_path: Path) -> None:
    assert cold_start(build, tmp_path, XRAY_LOADED, tracing=True) == "lambda_handler True"
