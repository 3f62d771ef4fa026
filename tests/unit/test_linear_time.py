"""Every pattern the forwarder matches against input, and every parser of producer or API text, runs in
linear time: each is fed adversarial strings of 1 MB and must finish within a second of CPU.

The bound is deliberately generous (these take milliseconds; the backtracking patterns they replace
took about an hour on 1 MB). It catches a quadratic pattern, not a slow machine.
"""

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from literals import NOW_MS

from devstack.sandbox import contract
from rokt_forwarder import envelope, message, pii, policy, reasons, rules
from rokt_forwarder.batch import prepare
from rokt_forwarder.errors import RefusedError

MB = 1_000_000
BOUND_SECONDS = 1.0


def half(unit: str) -> str:
    """`unit` repeated to 1 MB."""
    return unit * (MB // len(unit))


def body(payload: Any) -> str:
    return json.dumps(payload)


def unwrapped(text: str) -> None:
    with contextlib.suppress(RefusedError):
        envelope.unwrap(text)


def prepared(text: str) -> None:
    with contextlib.suppress(RefusedError):
        prepare(text, environment="development", hash_pii=True, now_ms=NOW_MS)


def parsed_by_the_sandbox(text: str) -> None:
    with contextlib.suppress(contract.BodyError):
        contract.parse_batches(text.encode(), bulk=text.startswith("["))


EMAIL_LIKE = [
    "a@" + half(".") + "@",
    half("@"),
    half("a@"),
    half("a@b"),
    "a@" + half("b.") + " ",
    half("a"),
    "a@b." + half("c") + "@",
]
CASES: list[tuple[str, Callable[[str], object], list[str]]] = [
    ("rules.email_rule", rules.email_rule, EMAIL_LIKE),
    ("rules.sha256_rule", rules.sha256_rule, [half("0"), half("f "), "0" * 64 + half("\n")]),
    ("rules.currency_rule", rules.currency_rule, [half("A"), half("U ")]),
    ("pii.holds_email", pii.holds_email, [*EMAIL_LIKE, half("a@ ."), half(".@"), "x@" + half("-")]),
    ("pii.canonical", pii.canonical, [half("$_-. "), half("A")]),
    ("pii.personal", pii.personal, [half("name"), half("phon"), half("address")]),
    ("reasons.name", reasons.name, [half("a"), half("a@")]),
    ("reasons._PATH", reasons._PATH.fullmatch, [half("a"), half("[0].")]),
    (
        "reasons._TOKENS",
        lambda t: list(reasons._TOKENS.finditer(t)),
        ['"' + half("x"), half("'"), half("\"'")],
    ),
    ("reasons._NUMBER", reasons._NUMBER.fullmatch, [half("9")]),
    (
        "reasons.redact",
        reasons.redact,
        [")" * MB + "x", '"' + half("x"), half("x "), "&#" + half("9"), half("&amp;"), half("(.")],
    ),
    ("reasons.unescape", reasons.unescape, ["&#" + half("9") + ";", half("&#9"), half("&x")]),
    ("policy._BATCH_INDEX", policy._BATCH_INDEX.search, ["Path '[" + half("9"), half("Path '[")]),
    ("message._DIGITS", message._DIGITS.fullmatch, [half("9"), half("9") + "x"]),
    (
        "envelope.unwrap",
        unwrapped,
        [half("["), half('{"a":'), '"' + half("\\\\") + '"'],
    ),
    (
        "batch.prepare (conversion)",
        prepared,
        [
            body({"customerid": "c", "email": "a@" + half(".") + "@"}),
            body({"customerid": "c", "user_agent": "a@" + half(".") + "@"}),
            body({"customerid": "c", "quantity": half("9")}),
            body({"customerid": "c", "custom_attributes": {"a@" + half("b"): 1}}),
            body({"customerid": "c", "timestamp": half("2")}),
            body({"customerid": "c", "amount": half("9")}),
        ],
    ),
    (
        "batch.prepare (full batch)",
        prepared,
        [
            body({"user_identities": {"customerid": "c"}, "device_info": {"x": half("a@")}, "events": [{}]}),
            body(
                {"user_identities": {"customerid": "c"}, "events": [{"data": {"custom_flags": half("@.")}}]}
            ),
            body({"user_identities": {"customerid": "c"}, "events": [[] for _ in range(MB // 4)]}),
        ],
    ),
    (
        "contract.parse_batches",
        parsed_by_the_sandbox,
        [body([{"x": half("a@")}]), half("[") + "]", body([{}] * (MB // 4))],
    ),
    ("contract._BETWEEN_ITEMS", contract._BETWEEN_ITEMS.match, [half(" ,"), half(",") + "x"]),
    ("contract._LINE_BREAKS", lambda t: contract._LINE_BREAKS.sub(" ", t), [half("\r\n"), half("\nx")]),
]


def decide(status: int) -> Callable[[str], object]:
    return lambda text: policy.decide(status, text.encode(), None, batches=100)


API_BODIES = [
    half("["),
    body({"errors": [{"message": ")" * MB + "x"}]}),
    body({"errors": [{"message": "Path '[" + half("9") + "].x"}]}),
    body({"errors": [half("x")] * 1}),
    body({"errors": ["Path '[1].x'"] * (MB // 16)}),
]
CASES += [(f"policy.decide({status})", decide(status), API_BODIES) for status in (202, 400, 503)]
CASES += [("reasons._HUGE_REFERENCE", lambda t: reasons._HUGE_REFERENCE.sub("", t), ["&#" + half("9")])]


@pytest.mark.parametrize(
    ("function", "text"),
    [pytest.param(f, t, id=f"{name}[{n}]") for name, f, texts in CASES for n, t in enumerate(texts)],
)
def test_linear_on_adversarial_input_of_a_megabyte(function: Callable[[str], object], text: str) -> None:
    start = time.process_time()  # CPU time: other processes on the machine do not count
    function(text)
    took = time.process_time() - start
    assert took < BOUND_SECONDS, f"{took:.1f} s on {len(text):,} characters: not linear"
