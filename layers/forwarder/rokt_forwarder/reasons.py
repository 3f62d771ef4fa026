"""What a reason may say: field paths, rule names and words of a fixed vocabulary, never a value.

Reasons go to the DLQ's `reason` attribute, the log and the metrics, where personal data must not go.
So they are built by allow-list, not by masking what looks personal: a producer's key appears only
if it is a plain identifier, and an API error text keeps only its known words, its field path and
type name, and its line and position; everything else becomes "…".
"""

import re
from collections.abc import Sequence

MAX_REASON_CHARS = 500
# A reason lists at most this many violations of one record, then how many more there were.
MAX_VIOLATIONS = 10
WITHHELD = "…"
# An API error text is read this far: the API's are a line long, and one quoting the longest value
# (4,096 characters, its quotes HTML-escaped) still fits; a longer one is hostile, and cut.
MAX_ERROR_TEXT_CHARS = 64 * 1024
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]{0,63}")
_PATH = re.compile(r"[A-Za-z0-9_$.\[\]-]{1,200}")
_TOKENS = re.compile(r"(?P<quoted>\"[^\"]*\"|'[^']*')|(?P<word>[^\s\"']+)|(?P<space>\s+)|[\"']")
_OPENERS = "([{"
_CLOSERS = ".,:;!?)]}"
_NO_BRACKETS = str.maketrans("", "", ")]}")
# A decimal character reference past U+10FFFF (7 digits); past 4,300 digits int() refuses it.
_HUGE_REFERENCE = re.compile(r"&#[0-9]{8,};?")
_NUMBER = re.compile(r"[0-9]{1,9}")
# Words of the Event API's and JSON parsers' error texts (and of our sandbox's); lowercase.
_WORDS = """
a an the of to in on at for from by with and or not no is are was be been must should can cannot could
does did has have only more most least than too this that it its as one all any each per while after
before first second problem error errors converting convert conversion value values type path line
position invalid valid required property properties missing unknown unexpected expected character
characters token end parsing parse reading string integer number boolean object array null empty date
datetime guid int16 int32 int64 double decimal system json body request requests batch batches event
events field fields attribute attributes name names key length long large size bytes limit exceeded
rate format malformed bad wrong found allowed supported unsupported encountered rule user identity
identities email address phone mobile device info custom data timestamp environment source id ids
message credentials authorization header scheduled outage injected fault sandbox gateway timeout
service unavailable internal server many accepted duplicate currency code hex digest older days future
milliseconds epoch whole list scalar content-type application/json
bad_request unauthorized forbidden not_found too_many_requests internal_server_error service_unavailable
request_entity_too_large unsupported_media_type method_not_allowed length_required
"""
_VOCABULARY = frozenset(_WORDS.split())
_KEEP_QUOTED_AFTER = frozenset({"path", "type"})
_KEEP_NUMBER_AFTER = frozenset({"line", "position"})


def name(key: object) -> str:
    """A producer's key as a reason may show it: itself if a plain identifier, else withheld."""
    return key if isinstance(key, str) and _IDENTIFIER.fullmatch(key) else WITHHELD


def join(violations: Sequence[str]) -> str:
    """Violations of one record as one reason, at most MAX_VIOLATIONS of them and MAX_REASON_CHARS long."""
    shown = list(dict.fromkeys(violations))
    more = len(shown) - MAX_VIOLATIONS
    text = "; ".join(shown[:MAX_VIOLATIONS]) + (f"; and {more} more" if more > 0 else "")
    return clip(text)


def clip(reason: str) -> str:
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + WITHHELD


def redact(text: str) -> str:
    """An API error text with only allowed words, its field path, type name, line and position kept.

    Linear in the text, which is read up to MAX_ERROR_TEXT_CHARS: what lies beyond is withheld.
    """
    cut = len(text) > MAX_ERROR_TEXT_CHARS
    if cut:  # at a space: a word cut in two would show its start
        before, space, _ = text[:MAX_ERROR_TEXT_CHARS].rpartition(" ")
        text = before + space
    out: list[str] = []
    previous = ""  # the last word kept, lowercased: "path" lets a quoted path through, "line" a number
    for token in _TOKENS.finditer(unescape(text)):
        if token["space"]:
            out.append(" ")
        elif token["quoted"]:
            inner = token["quoted"][1:-1]
            keep = previous in _KEEP_QUOTED_AFTER and _PATH.fullmatch(inner)
            out.append(f"'{inner}'" if keep else f'"{WITHHELD}"')
            previous = ""
        elif token["word"]:
            core, tail = _core(token["word"])
            if not core or core.lower() in _VOCABULARY:
                out.append(token["word"])
                previous = core.lower() or previous
            elif previous in _KEEP_NUMBER_AFTER and _NUMBER.fullmatch(core):
                out.append(token["word"])
                previous = core.lower()
            else:
                _withhold(out, tail)
                previous = ""
    if cut:
        _withhold(out, "")
    return clip("".join(out).strip())


def _core(word: str) -> tuple[str, str]:
    """A word without its opening brackets and closing punctuation, and the punctuation it ends with.

    String methods, not the lazy pattern they replace: that one took quadratic time on a long word
    of closing brackets (`)))…x`, 100 KB: minutes).
    """
    inner = word.lstrip(_OPENERS)
    core = inner.rstrip(_CLOSERS)
    return core, inner[len(core) :].translate(_NO_BRACKETS)


def unescape(text: str) -> str:
    """HTML entities decoded: the API escapes the quotes of its error texts (docs/event-api.md)."""
    import html  # noqa: PLC0415 - only when the API answered with errors: its entity table slows cold start

    try:
        return html.unescape(text)
    except ValueError:  # a reference of thousands of digits: no character, so no longer a reference
        return html.unescape(_HUGE_REFERENCE.sub("\ufffd", text))


def _withhold(out: list[str], tail: str) -> None:
    """Append "…" (and the word's closing punctuation), merged with a "…" just before it."""
    if len(out) >= 2 and out[-1] == " " and out[-2] == WITHHELD:
        del out[-2:]
    elif out and out[-1] == WITHHELD:
        out.pop()
    out.append(WITHHELD + tail)
