"""JSON for the wire, with Decimals written exactly as they arrived.

Writing the batch was half of the handler's CPU (a `json.dumps` per scalar). orjson writes it in one
C call, each Decimal as its own text (`orjson.Fragment`). Where orjson is not exact it refuses or
writes null: integers past 64 bits, NaN or infinite floats, lone surrogates, nesting past 254, unknown
types. Those batches, and any with a null, go through `exact()`, which defines what is written and
which error is raised; orjson is only its fast path.

`exact()` has the stdlib's C encoder write the whole tree with each Decimal as a marker string, then
puts each Decimal's text where its marker is. A marker that a string of the tree also spelled shows
up once too often; the tree is then written again with a random marker, so the output stays exact.
"""

import json
import secrets
from decimal import Decimal
from typing import Any

import orjson

_MARKER = "\x00decimal\x00"
_TOKEN = json.dumps(_MARKER, ensure_ascii=False)
# The C encoder nests ~10x deeper than the Python writer it replaced; batch.py refuses a batch nested
# past this ("nested too deeply") rather than send it. No batch the API documents comes close.
MAX_DEPTH = 500


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    """Compact UTF-8 JSON; ValueError for NaN or infinities, TypeError for other types.

    Text with a lone surrogate raises UnicodeEncodeError, as str.encode does; nesting deeper than
    MAX_DEPTH raises RecursionError. `sort_keys` gives one text for equal values (a canonical form).
    """
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    try:
        body = orjson.dumps(value, default=_fragment, option=option)
    except orjson.JSONEncodeError:
        return exact(value, sort_keys=sort_keys)
    if b"null" in body:  # a null may have been a NaN
        return exact(value, sort_keys=sort_keys)
    # orjson's bytes keep the ~4 KB block they were grown in, and every batch of an invocation is held
    # until it is sent (10,000 records: +32 MB): a right-sized copy costs well under a microsecond.
    return bytes(memoryview(body))


def _fragment(value: object) -> orjson.Fragment:
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(str(value))
    raise TypeError  # exact() says what is wrong


def exact(value: Any, *, sort_keys: bool = False) -> bytes:
    """dumps() without orjson: the reference for what is written and what is refused."""
    marker, token = _MARKER, _TOKEN
    while True:
        decimals: list[str] = []
        text = _encoder(marker, decimals, sort_keys).encode(value)
        if not decimals:
            break
        if text.count(token) == len(decimals):
            for number in decimals:
                text = text.replace(token, number, 1)
            break
        # A string of the tree spelled the marker: write the batch again with one it cannot know.
        marker = f"\x00decimal {secrets.token_hex(16)}\x00"
        token = json.dumps(marker, ensure_ascii=False)
    # Each container writes one bracket, so a text with few of them is shallow: most batches skip the walk.
    if text.count("[") + text.count("{") > MAX_DEPTH:
        _check_depth(value, MAX_DEPTH)
    return text.encode()


def _check_depth(value: Any, levels: int) -> None:
    """Only containers are visited (a batch has a few dozen values), each using up one level."""
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list | tuple) else None
    if items is None:
        return
    if levels == 0:
        raise RecursionError("nested too deeply")
    for item in items:
        if isinstance(item, dict | list | tuple):
            _check_depth(item, levels - 1)


def _encoder(marker: str, decimals: list[str], sort_keys: bool) -> json.JSONEncoder:
    def default(value: object) -> str:
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise ValueError("non-finite number")
            decimals.append(str(value))
            return marker
        raise TypeError(f"cannot write {type(value).__name__} as JSON")

    # The C encoder only runs without indent; allow_nan=False refuses NaN and infinite floats.
    return json.JSONEncoder(
        ensure_ascii=False, allow_nan=False, separators=(",", ":"), sort_keys=sort_keys, default=default
    )


def join(batches: list[bytes]) -> bytes:
    """A /bulkevents body from already-serialised batches (no re-encoding)."""
    return b"[" + b",".join(batches) + b"]"


def bulk_size(sizes: int, count: int) -> int:
    """Bytes of join() for `count` batches of `sizes` bytes in total."""
    return sizes + max(count - 1, 0) + 2
