"""The package's shape, checked from its imports by folder, so a new module cannot go unchecked.

    rokt_forwarder/*.py, presets/, any other folder   the core: pure, no I/O, never imports an adapter
    rokt_forwarder/adapters/                          the edges: HTTP, AWS, Lambda's runtime, metrics
    rokt_forwarder/runtime.py                         the composition root: hands the core its edges
    devstack/, ops/, bench/                           not shipped: the runtime never imports them

Every file is found with pathlib: a module added anywhere but adapters/ is held to the core's rule.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from literals import ROOT

PACKAGE = ROOT / "layers" / "forwarder" / "rokt_forwarder"
ADAPTERS = PACKAGE / "adapters"
APP = ROOT / "functions" / "forwarder" / "app.py"
# The one module outside adapters/ that may import them: something must build the edges and pass them in.
COMPOSITION_ROOT = PACKAGE / "runtime.py"
# Modules (and their submodules) that do I/O or talk to AWS/Lambda: for adapters only.
IO_MODULES = ("boto3", "botocore", "mypy_boto3_sqs", "urllib3", "urllib.request", "socket", "http")
IO_MODULES += ("ssl", "aws_lambda_powertools", "snapshot_restore_py", "rokt_forwarder.adapters")
IO_MODULES += ("rokt_forwarder.runtime",)  # the composition root imports every adapter
# Except Powertools' Logger: the core's log lines are its output to the operator (stdout, as print).
ALLOWED = {"aws_lambda_powertools.Logger"}
# Process state read in place of being passed in (config.py is handed os.environ by runtime.py).
OS_STATE = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def package_name(path: Path) -> str:
    if not path.is_relative_to(PACKAGE.parent):  # app.py: a top-level module of the function
        return path.stem
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[str]:
    """Every dotted name the file imports, `from a import b` as a.b, relative imports resolved."""
    package = package_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield from (f"{module}.{alias.name}" for alias in node.names)


def reads_process_state(path: Path) -> set[str]:
    """`os.environ`, `os.getenv`, ... as attributes, or imported by name from os."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
            and node.attr in OS_STATE
        ):
            found.add(f"os.{node.attr}")
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            found |= {f"os.{alias.name}" for alias in node.names if alias.name in OS_STATE}
    return found


def does_io(name: str) -> bool:
    if name in ALLOWED:
        return False
    return any(name == io or name.startswith(f"{io}.") for io in IO_MODULES)


def core() -> list[Path]:
    """Every module of the package outside adapters/, but the composition root."""
    found = [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if ADAPTERS not in path.parents and path != COMPOSITION_ROOT
    ]
    assert len(found) > 20, "the core was not found: did the package move?"
    return found


def names(paths: list[Path]) -> list[str]:
    return [str(path.relative_to(PACKAGE)) for path in paths]


@pytest.mark.parametrize("path", core(), ids=names(core()))
def test_the_core_does_no_io_and_never_imports_an_adapter(path: Path) -> None:
    io = sorted({name for name in imports(path) if does_io(name)})
    assert not io, f"{path.name} is core (not in adapters/) yet imports {io}: move the I/O to an adapter"
    state = sorted(reads_process_state(path))
    assert not state, f"{path.name} is core yet reads {state}: take it as a parameter (runtime.py passes it)"


def test_the_adapters_folder_holds_the_edges() -> None:
    found = {path.stem for path in ADAPTERS.glob("*.py")}
    assert {"api", "secret", "sqs", "aws", "metrics", "tracing"} <= found


# The top-level packages that are not shipped: the local stack, the operator tools, the benchmarks.
NOT_SHIPPED = {"devstack", "ops", "bench"}


def test_nothing_shipped_imports_the_tools_around_it() -> None:
    for path in [*PACKAGE.rglob("*.py"), APP]:
        assert not {name for name in imports(path) if name.split(".")[0] in NOT_SHIPPED}, path.name


def test_the_benchmarks_sit_on_top() -> None:
    """bench/ uses the local stack and the runtime; the local stack and the operator tools never use it."""
    found = [path for folder in ("devstack", "ops") for path in sorted((ROOT / folder).rglob("*.py"))]
    assert len(found) > 20, "devstack/ and ops/ were not found: did they move?"
    for path in found:
        assert not {name for name in imports(path) if name.split(".")[0] == "bench"}, path
