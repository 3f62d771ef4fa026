"""Which way the packages import each other: the operator tools (ops/) stand on the runtime package and
not on the local stack (devstack/), except for the sample events send-test sends; the runtime package
imports neither."""

import ast
from pathlib import Path

from literals import ROOT

# send_test.py sends the demo's Shopify, Stripe and EventBridge shapes: one builder for both.
OPS_USES_OF_DEVSTACK = {"ops/send_test.py": {"devstack.platforms", "devstack.traffic"}}


def imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def top_level(names: set[str], package: str) -> set[str]:
    return {name for name in names if name == package or name.startswith(f"{package}.")}


def test_ops_imports_devstack_only_for_the_sample_events() -> None:
    for path in sorted((ROOT / "ops").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        allowed = OPS_USES_OF_DEVSTACK.get(relative, set())
        uses = {
            name
            for name in top_level(imported(path), "devstack")
            if not any(name == ok or name.startswith(f"{ok}.") for ok in allowed)
        }
        assert not uses, f"{relative} imports {sorted(uses)} from devstack"


def test_the_runtime_package_imports_no_tool() -> None:
    for path in sorted((ROOT / "layers" / "forwarder" / "rokt_forwarder").rglob("*.py")):
        names = imported(path)
        assert not top_level(names, "ops") | top_level(names, "devstack"), path
