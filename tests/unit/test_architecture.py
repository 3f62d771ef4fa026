"""The package's shape, checked from its imports: a pure core, thin adapters, nothing of devstack."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "forwarder" / "rokt_forwarder"
PURE = ("envelope", "message", "batch", "rules", "limits", "pii", "wire", "fifo", "packing")
PURE += ("delivery", "policy", "outcome", "errors", "ports", "pacing", "reasons", "record", "config")
ADAPTERS = {"api": {"errors", "ports", "secret"}, "secret": {"aws", "errors"}, "sqs": {"aws", "ports"}}
IO_LIBRARIES = {"boto3", "botocore", "urllib3", "aws_lambda_powertools", "socket", "http", "urllib.request"}


def imports(module: str) -> set[str]:
    """Modules by their dotted name, and rokt_forwarder modules by name, that `module` imports."""
    found = set()
    for node in ast.walk(ast.parse((PACKAGE / f"{module}.py").read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] if node.module != "rokt_forwarder" else [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            found.add(parts[1] if parts[0] == "rokt_forwarder" and len(parts) > 1 else name)
    return found


@pytest.mark.parametrize("module", PURE)
def test_the_core_does_no_io(module: str) -> None:
    io = {name for name in imports(module) for lib in IO_LIBRARIES if f"{name}.".startswith(f"{lib}.")}
    assert not io


@pytest.mark.parametrize(("adapter", "allowed"), ADAPTERS.items())
def test_adapters_import_interfaces_never_the_delivery_path(adapter: str, allowed: set[str]) -> None:
    ours = {name for name in imports(adapter) if (PACKAGE / f"{name}.py").exists()}
    assert ours <= allowed


def test_nothing_shipped_imports_the_development_stack() -> None:
    for path in PACKAGE.glob("*.py"):
        assert "devstack" not in imports(path.stem), path.name
