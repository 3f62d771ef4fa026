"""Producers' own events as flat conversions, declared in JSON: JMESPath expressions and named conversions.

A mapping says which events it owns (`match`), which of those are conversions (`convert`; the rest
are skipped, not failed) and how each flat field is computed from the event (`fields`). The
expressions are JMESPath (https://jmespath.org/specification.html) with a few named conversions
(FUNCTIONS below) that an EventBridge input transformer cannot do: money from minor units, a URL's
query parameter, case and whitespace, a full name's parts, epoch seconds. The Shopify and Stripe
presets (presets/*.json) are written in this language, so a user can read and copy them.

The document is checked whole when it is compiled (at cold start), and the first problem raises a
ConfigError naming its place in the document. A mapped event then goes through the same parser and
rules as a flat conversion, so reasons and HASH_PII are exactly theirs. Pure: no I/O here;
adapters/producers.py reads the documents.
"""

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import jmespath
from jmespath import exceptions as jmespath_exceptions
from jmespath import functions, visitor

from rokt_forwarder import reasons
from rokt_forwarder.errors import ConfigError, RefusedError, SkippedError
from rokt_forwarder.message import FIELDS

# Stripe's amounts are integers in the currency's minor unit (https://docs.stripe.com/currencies,
# "Zero-decimal currencies" and "Three-decimal currencies"); every other currency has two decimals
# there, ISK, HUF and TWD included ("Special cases": their amounts carry two decimals in the API).
ZERO_DECIMAL_CURRENCIES: Final = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF"}
    | {"XPF"}
)
THREE_DECIMAL_CURRENCIES: Final = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})

KEYS: Final = ("name", "description", "match", "event", "convert", "fields")
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
# An event kind shown in a skip reason: a platform's topic or type ("orders/updated",
# "payment_intent.succeeded"). No "@", space or "+": an expression pointing at personal data by
# mistake would not show.
_KIND = re.compile(r"[A-Za-z0-9_./:-]{1,64}")
_CURRENCY = re.compile(r"[A-Za-z]{3}")


class _Unfit(ValueError):
    """A named conversion cannot use what the event holds; the message says why, never the value."""


def _text(value: object, function: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise _Unfit(f"{function}() needs a string")


def _whole(value: object, function: str) -> int | None:
    """An integer, also written as an integral decimal or a string of digits; None stays None."""
    if value is None:
        return None
    if isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]+\s*", value):
        return int(value)
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _Unfit(f"{function}() needs a whole number")


def _signature[F: Callable[..., Any]](*arguments: dict[str, Any]) -> Callable[[F], F]:
    """jmespath's @signature (the argument types it checks before a call), typed."""
    decorate: Callable[[F], F] = functions.signature(*arguments)
    return decorate


class Functions(functions.Functions):  # type: ignore[misc]  # jmespath ships no type hints
    """JMESPath's functions, exact with the Decimals of our JSON, and the named conversions."""

    # Decimals are numbers: the body is parsed with parse_float=Decimal, so 19.99 stays 19.99.
    def _get_allowed_pytypes(self, types: Sequence[str]) -> tuple[list[str], list[Sequence[str]]]:
        allowed, subtypes = super()._get_allowed_pytypes(types)
        with_decimal = [*allowed, "Decimal"] if "float" in allowed else allowed
        return with_decimal, [(*sub, "Decimal") if "float" in sub else sub for sub in subtypes]

    @_signature({"types": []})
    def _func_to_string(self, value: Any) -> Any:
        return str(value) if isinstance(value, Decimal) else super()._func_to_string(value)

    @_signature({"types": []})
    def _func_to_number(self, value: Any) -> Any:
        if isinstance(value, Decimal):
            return value
        if isinstance(value, str):  # a float would not keep "19.99" exact
            try:
                number = Decimal(value.strip())
            except InvalidOperation:
                return None
            return number if number.is_finite() else None
        return super()._func_to_number(value)

    @_signature({"types": []}, {"types": []})
    def _func_minor_units(self, amount: Any, currency: Any) -> Decimal | None:
        """An amount in the currency's minor unit as the exact major amount (Stripe's table)."""
        units = _whole(amount, "minor_units")
        if units is None:
            return None
        if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency.strip()):
            raise _Unfit("minor_units() needs the 3-letter currency code")
        code = currency.strip().upper()
        decimals = 0 if code in ZERO_DECIMAL_CURRENCIES else 3 if code in THREE_DECIMAL_CURRENCIES else 2
        return Decimal(units).scaleb(-decimals)

    @_signature({"types": []}, {"types": ["string"]})
    def _func_query_param(self, url: Any, name: str) -> str | None:
        """The first value of a URL's query parameter; the URL may be relative ("/?rtid=…")."""
        text = _text(url, "query_param")
        if not text:
            return None
        try:
            query = urlsplit(text.strip()).query
        except ValueError:  # an unparseable URL has no parameter to give
            return None
        values = parse_qs(query).get(name)
        return values[0] if values else None

    @_signature({"types": []})
    def _func_lower(self, value: Any) -> str | None:
        text = _text(value, "lower")
        return None if text is None else text.lower()

    @_signature({"types": []})
    def _func_upper(self, value: Any) -> str | None:
        text = _text(value, "upper")
        return None if text is None else text.upper()

    @_signature({"types": []})
    def _func_trim(self, value: Any) -> str | None:
        text = _text(value, "trim")
        return None if text is None else text.strip()

    @_signature({"types": []})
    def _func_first_name(self, value: Any) -> str | None:
        """The first word of a full name ("Jenny Rosen" → "Jenny")."""
        words = (_text(value, "first_name") or "").split()
        return words[0] if words else None

    @_signature({"types": []})
    def _func_last_name(self, value: Any) -> str | None:
        """The words after the first ("Mary Ann Smith" → "Ann Smith"); None for a single word."""
        words = (_text(value, "last_name") or "").split()
        return " ".join(words[1:]) or None

    @_signature({"types": []})
    def _func_seconds_to_ms(self, value: Any) -> int | None:
        """Epoch seconds (Stripe's `created`) as the epoch milliseconds a timestamp may be."""
        if isinstance(value, Decimal) and value.is_finite():
            return int(value * 1000)
        seconds = _whole(value, "seconds_to_ms")
        return None if seconds is None else seconds * 1000


FUNCTIONS: Final = Functions()
NAMED_CONVERSIONS: Final = (
    "minor_units",
    "query_param",
    "lower",
    "upper",
    "trim",
    "first_name",
    "last_name",
    "seconds_to_ms",
)
# One interpreter for every search: ParsedResult.search would build one per call (a third of its cost).
_INTERPRETER: Final = visitor.TreeInterpreter(jmespath.Options(custom_functions=FUNCTIONS))


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled JMESPath expression and where it is written in its document ("fields.amount")."""

    where: str
    text: str
    compiled: Any

    def search(self, document: Any) -> Any:
        return _INTERPRETER.visit(self.compiled.parsed, document)


@dataclass(frozen=True, slots=True)
class Mapping:
    """One producer's events: those `match` holds for belong to it; `convert` picks the conversions."""

    name: str
    match: Expression
    fields: tuple[tuple[str, Expression], ...]
    event: Expression | None = None
    convert: Expression | None = None

    def owns(self, document: Any) -> bool:
        """An expression that does not fit the event's shape (a type error) means another producer's."""
        try:
            return _truthy(self.match.search(document))
        except (jmespath_exceptions.JMESPathError, _Unfit, TypeError, ValueError, ArithmeticError):
            return False

    def conversion(self, document: Any) -> dict[str, Any]:
        """The flat conversion; SkippedError if `convert` says it is none, RefusedError naming bad fields."""
        if self.convert is not None and not _truthy(self._search(self.convert, document)):
            raise SkippedError(f"{self.name}: {self._kind(document)} does not meet the mapping's convert")
        flat: dict[str, Any] = {}
        violations: list[str] = []
        for field, expression in self.fields:
            try:
                value = _present(expression.search(document))
            except _Unfit as unfit:
                violations.append(f"{field}: {unfit}")
                continue
            except (jmespath_exceptions.JMESPathError, TypeError, ValueError, ArithmeticError) as error:
                violations.append(f"{field}: {_failed(self.name, error)}")
                continue
            if value is not None:
                flat[field] = value
        if violations:
            raise RefusedError(reasons.join(violations))
        return flat

    def _search(self, expression: Expression, document: Any) -> Any:
        try:
            return expression.search(document)
        except (jmespath_exceptions.JMESPathError, _Unfit, TypeError, ValueError, ArithmeticError) as error:
            raise RefusedError(f"{expression.where}: {_failed(self.name, error)}") from None

    def _kind(self, document: Any) -> str:
        if self.event is None:
            return "the event"
        try:
            kind = self.event.search(document)
        except (jmespath_exceptions.JMESPathError, _Unfit, TypeError, ValueError, ArithmeticError):
            return "the event"
        return kind if isinstance(kind, str) and _KIND.fullmatch(kind) else "the event"


@dataclass(frozen=True, slots=True)
class Mappings:
    """Mappings tried in order (a user's before the presets); the first that owns an event maps it."""

    mappings: tuple[Mapping, ...] = ()

    def __add__(self, other: "Mappings") -> "Mappings":
        return Mappings(self.mappings + other.mappings)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.mappings)

    def convert(self, document: Any) -> dict[str, Any] | None:
        """The flat conversion of `document` by the mapping that owns it; None when none does.

        Raises SkippedError (not a conversion) or RefusedError (an expression failed), without values.
        """
        for mapping in self.mappings:
            if mapping.owns(document):
                return mapping.conversion(document)
        return None


NO_MAPPINGS: Final = Mappings()


def compile_mappings(document: object) -> Mappings:
    """A mapping document (one mapping, or a list of them) compiled; ConfigError naming the first problem."""
    if isinstance(document, list):
        if not document:
            raise ConfigError("the mapping document is an empty list: give at least one mapping")
        return Mappings(tuple(_mapping(item, f"[{n}].") for n, item in enumerate(document)))
    return Mappings((_mapping(document, ""),))


def _mapping(document: object, at: str) -> Mapping:
    if not isinstance(document, dict):
        raise ConfigError(f"{at or 'the mapping document'}: must be an object with match and fields")
    for key in document:
        if key not in KEYS:
            raise ConfigError(f"{at}{key}: unknown key (a mapping has {', '.join(KEYS)})")
    name = document.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"{at}name: is required: 1 to 64 letters, digits, '_' or '-'")
    if not isinstance(document.get("description", ""), str):
        raise ConfigError(f"{at}description: must be a string")
    fields = document.get("fields")
    if not isinstance(fields, dict) or not fields:
        raise ConfigError(f"{at}fields: is required: an object of flat conversion fields to expressions")
    compiled = []
    for field, text in fields.items():
        if field not in FIELDS:
            raise ConfigError(
                f"{at}fields.{field}: not a field of a flat conversion (one of {', '.join(FIELDS)})"
            )
        compiled.append((field, _expression(text, f"{at}fields.{field}")))
    return Mapping(
        name=name,
        match=_expression(document.get("match"), f"{at}match"),
        fields=tuple(compiled),
        event=_optional(document, "event", at),
        convert=_optional(document, "convert", at),
    )


def _optional(document: dict[str, Any], key: str, at: str) -> Expression | None:
    return None if document.get(key) is None else _expression(document[key], f"{at}{key}")


def _expression(text: object, where: str) -> Expression:
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{where}: must be a JMESPath expression (a non-empty string)")
    try:
        compiled = jmespath.compile(text)
    except jmespath_exceptions.JMESPathError as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(f"{where}: not a valid JMESPath expression: {first_line}") from None
    for name, given in _calls(compiled.parsed):
        spec = Functions.FUNCTION_TABLE.get(name)
        if spec is None:
            raise ConfigError(
                f"{where}: unknown function {name}() (the named conversions: {', '.join(NAMED_CONVERSIONS)})"
            )
        signature = spec["signature"]
        wanted = len(signature)
        variadic = bool(signature) and signature[-1].get("variadic")
        if given < wanted or (given > wanted and not variadic):
            raise ConfigError(f"{where}: {name}() takes {wanted} argument(s), not {given}")
    return Expression(where, text, compiled)


def _calls(node: Any) -> Iterator[tuple[str, int]]:
    """Every function call of a parsed expression: its name and how many arguments it is given."""
    if not isinstance(node, dict):
        return
    children = node.get("children", [])
    if node.get("type") == "function_expression":
        yield node["value"], len(children)
    for child in children:
        yield from _calls(child)


def _truthy(value: Any) -> bool:
    """JMESPath's truth: false, null, "", [] and {} are false; 0 is true."""
    return not (value is None or value is False or value in ("", [], {}))


def _present(value: Any) -> Any:
    """None for what a platform writes when it has nothing ("", [], {}), also inside an attribute object."""
    if isinstance(value, dict):
        value = {key: item for key, item in value.items() if _present(item) is not None}
    if value is None or value in ([], {}) or (isinstance(value, str) and not value.strip()):
        return None
    return value


def _failed(mapping: str, error: Exception) -> str:
    """Why an expression failed, by its kind only: JMESPath's messages quote the value."""
    if isinstance(error, jmespath_exceptions.JMESPathTypeError):
        return f"the {mapping} mapping's expression met a value of another type"
    return f"the {mapping} mapping's expression failed ({type(error).__name__})"
