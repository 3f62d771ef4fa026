"""JSON for the wire, with Decimals written exactly as they arrived.

The stdlib encoder cannot emit a Decimal as a JSON number, so this writes the (small) batch tree
itself and leaves strings to the stdlib.
"""

from decimal import Decimal
from json import dumps as _json_dumps
from typing import Any


def dumps(value: Any) -> bytes:
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts).encode()


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(_json_dumps(value, ensure_ascii=False))
    elif value is None or isinstance(value, bool):
        out.append("null" if value is None else "true" if value else "false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("non-finite number")
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_json_dumps(value, allow_nan=False))
    elif isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(_json_dumps(str(key), ensure_ascii=False))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")


def join(batches: list[bytes]) -> bytes:
    """A /bulkevents body from already-serialised batches (no re-encoding)."""
    return b"[" + b",".join(batches) + b"]"


def bulk_size(sizes: int, count: int) -> int:
    """Bytes of join() for `count` batches of `sizes` bytes in total."""
    return sizes + max(count - 1, 0) + 2
