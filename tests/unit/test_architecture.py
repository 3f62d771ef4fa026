"""The package's shape, checked from its imports: a pure core, thin adapters, nothing of devstack."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "forwarder" / "rokt_forwarder"
APP = ROOT / "functions" / "forwarder" / "app.py"
PURE = ("envelope", "message", "batch", "rules", "limits", "pii", "wire", "fifo", "packing")
PURE += ("delivery", "policy", "outcome", "errors", "ports", "pacing", "outage", "reasons", "record")
PURE += ("config", "mapping", "consent")
ADAPTERS = {"api": {"errors", "ports", "secret"}, "secret": {"aws", "errors"}, "sqs": {"aws", "ports"}}
ADAPTERS["producers"] = {"aws", "config", "errors", "mapping"}
IO_LIBRARIES = {"boto3", "botocore", "urllib3", "aws_lambda_powertools", "socket", "http", "urllib.request"}


def imports(path: Path) -> set[str]:
    """Modules by their dotted name, and rokt_forwarder modules by name, that the file imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] if node.module != "rokt_forwarder" else [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            found.add(parts[1] if parts[0] == "rokt_forwarder" and len(parts) > 1 else name)
    return found


def module(name: str) -> Path:
    return PACKAGE / f"{name}.py"


@pytest.mark.parametrize("name", PURE)
def test_the_core_does_no_io(name: str) -> None:
    found = imports(module(name))
    io = {imported for imported in found for lib in IO_LIBRARIES if f"{imported}.".startswith(f"{lib}.")}
    assert not io
    edges = {imported for imported in found if module(imported).exists() and imported not in PURE}
    assert not edges, "the core reaches I/O through an adapter"


@pytest.mark.parametrize(("adapter", "allowed"), ADAPTERS.items())
def test_adapters_import_interfaces_never_the_delivery_path(adapter: str, allowed: set[str]) -> None:
    ours = {name for name in imports(module(adapter)) if module(name).exists()}
    assert ours <= allowed


def test_nothing_shipped_imports_the_development_stack() -> None:
    for path in [*PACKAGE.glob("*.py"), APP]:
        assert not {name for name in imports(path) if name.split(".")[0] == "devstack"}, path.name
