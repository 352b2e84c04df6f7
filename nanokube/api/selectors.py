"""Label selectors as upstream parses, matches and prints them; the field selector API too.

A label selector arrives two ways: as the `labelSelector=` query string (`a=b,c in (x,y),!d`)
and as a `metav1.LabelSelector` object inside specs (`matchLabels`, `matchExpressions`). Both
become a `LabelSelector`: an AND of requirements kept sorted by key, which prints in upstream's
canonical form, so `kubectl` and controllers see the same strings they would from upstream.

The parser follows upstream's lexer and recursive-descent grammar token by token (including
its quirks: `x in ()` means "x is the empty string", `in`/`notin` are plain words where a key or
value is expected), because clients rely on exactly what the server accepts and on its error
messages. Key and value checks are upstream's qualified-name and label-value rules.

Field selectors live in `fieldselectors`; their public names are re-exported here so callers
have one module for both kinds of selector.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import errors
from .fieldselectors import (
    FieldRequirement,
    FieldSelector,
    check_field_selector,
    field_set,
    go_quote,
    parse_field_selector,
    supported_fields,
)

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "LabelSelector",
    "Requirement",
    "check_field_selector",
    "field_set",
    "go_quote",
    "label_key_error",
    "label_key_errors",
    "label_selector_from_dict",
    "label_value_error",
    "label_value_errors",
    "parse_field_selector",
    "parse_label_selector",
    "supported_fields",
]

# -- upstream's name rules (qualified names and label values) --------------------------------

_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
_LABEL_VALUE_FMT = f"({_QNAME_FMT})?"
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN_FMT = _DNS_LABEL_FMT + r"(\." + _DNS_LABEL_FMT + ")*"
_DNS_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_QNAME = re.compile(_QNAME_FMT)
_LABEL_VALUE = re.compile(_LABEL_VALUE_FMT)
_DNS_SUBDOMAIN = re.compile(_DNS_SUBDOMAIN_FMT)


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    """Upstream's wording for a value that fails a pattern (double spaces included)."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _byte_len(s: str) -> int:
    # upstream measures strings in bytes
    return len(s.encode("utf-8", "surrogatepass"))


def _dns_subdomain_errors(value: str) -> list[str]:
    errs = []
    if _byte_len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _DNS_SUBDOMAIN.fullmatch(value):
        errs.append(_regex_error(_DNS_SUBDOMAIN_MSG, _DNS_SUBDOMAIN_FMT, "example.com"))
    return errs


def label_key_errors(key: str) -> list[str]:
    """Every reason `key` is not a qualified name (`[prefix/]name`), in upstream's words."""
    parts = key.split("/")
    errs: list[str] = []
    if len(parts) > 2:
        return [
            "a qualified name " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + m for m in _dns_subdomain_errors(prefix)]
    if not name:
        errs.append("name part must be non-empty")
    elif _byte_len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if not _QNAME.fullmatch(name):
        errs.append("name part " + _regex_error(_QNAME_MSG, _QNAME_FMT, "MyName", "my.name", "123-abc"))
    return errs


def label_value_errors(value: str) -> list[str]:
    """Every reason `value` is not a valid label value, in upstream's words."""
    errs = []
    if _byte_len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _LABEL_VALUE.fullmatch(value):
        errs.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def label_key_error(key: str) -> str | None:
    """Why `key` is not a valid label key (the reasons joined as upstream joins them), or None."""
    errs = label_key_errors(key)
    return "; ".join(errs) if errs else None


def label_value_error(value: str) -> str | None:
    """Why `value` is not a valid label value (reasons joined), or None."""
    errs = label_value_errors(value)
    return "; ".join(errs) if errs else None


# -- Go's rendering of values in error messages -----------------------------------------------

def _go_string_slice(values: Sequence[str] | None) -> str:
    """A []string as Go's %#v prints it (nil and empty differ)."""
    if not values:
        return "[]string(nil)" if values is None else "[]string{}"
    return "[]string{" + ", ".join(go_quote(v) for v in values) + "}"


def _aggregate(messages: list[str]) -> str:
    """Several errors as one, like upstream's aggregate: de-duplicated, bracketed when many."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _parse_int64(s: str) -> int | None:
    """Go's strconv.ParseInt(s, 10, 64): ASCII digits with an optional sign, in int64 range."""
    digits = s[1:] if s[:1] in ("+", "-") else s
    if not digits or not all("0" <= c <= "9" for c in digits):
        return None
    n = int(s)
    return n if -(2**63) <= n < 2**63 else None


# -- requirements and selectors ---------------------------------------------------------------

# upstream's operator spellings (selection.Operator)
IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS = "in", "notin", "=", "==", "!="
EXISTS, DOES_NOT_EXIST, GREATER_THAN, LESS_THAN = "exists", "!", "gt", "lt"
_BINARY = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_OP_TEXT = {EQUALS: "=", DOUBLE_EQUALS: "==", NOT_EQUALS: "!=", IN: " in ", NOT_IN: " notin ",
            GREATER_THAN: ">", LESS_THAN: "<"}


@dataclass(frozen=True)
class Requirement:
    """One condition on one label key. `values` are kept as given (parsing sorts them)."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Upstream's truth table: a missing key satisfies only `!=`, `notin` and `!`."""
        op = self.operator
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        if self.key not in labels:
            return op in (NOT_EQUALS, NOT_IN)
        have = labels[self.key]
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return have in self.values
        if op in (NOT_IN, NOT_EQUALS):
            return have not in self.values
        if op in (GREATER_THAN, LESS_THAN):
            if len(self.values) != 1:
                return False
            got, want = _parse_int64(have), _parse_int64(self.values[0])
            if got is None or want is None:
                return False
            return got > want if op == GREATER_THAN else got < want
        return False

    def __str__(self) -> str:
        head = ("!" if self.operator == DOES_NOT_EXIST else "") + self.key
        if self.operator in (EXISTS, DOES_NOT_EXIST):
            return head
        vals = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if self.operator in (IN, NOT_IN):
            vals = f"({vals})"
        return head + _OP_TEXT.get(self.operator, "") + vals


class LabelSelector:
    """An AND of requirements sorted by key, or the selector that matches nothing.

    `empty` means "selects everything" (no requirements); the nothing-selector is what a
    missing (null) `metav1.LabelSelector` stands for, and it prints as "" too.
    """

    __slots__ = ("nothing", "requirements")

    def __init__(self, requirements: Iterable[Requirement] = (), nothing: bool = False) -> None:
        self.nothing = nothing
        self.requirements: tuple[Requirement, ...] = () if nothing else tuple(
            sorted(requirements, key=lambda r: r.key)
        )

    @property
    def empty(self) -> bool:
        return not self.nothing and not self.requirements

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.nothing:
            return False
        return all(r.matches(labels) for r in self.requirements)

    def requires_exact_match(self, key: str) -> str | None:
        """The single value `key` must have (=, == or a one-value `in`), else None."""
        for r in self.requirements:
            if r.key == key:
                if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return "LabelSelector(nothing)" if self.nothing else f"LabelSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelSelector):
            return NotImplemented
        return self.nothing == other.nothing and self.requirements == other.requirements

    def __hash__(self) -> int:
        return hash((self.nothing, self.requirements))


def new_requirement(key: str, operator: str, values: Sequence[str] | None, *, key_path: str = "key") -> Requirement:
    """Check a requirement as upstream's NewRequirement does; raise with all its complaints."""
    vals = list(values) if values is not None else None
    msgs: list[str] = []
    key_errs = label_key_errors(key)
    if key_errs:
        msgs.append(f"{key_path}: Invalid value: {go_quote(key)}: {'; '.join(key_errs)}")
    n = len(vals or ())
    if operator in (IN, NOT_IN):
        if n == 0:
            msgs.append(f"values: Invalid value: {_go_string_slice(vals)}: for 'in', 'notin' operators, values set can't be empty")
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if n != 1:
            msgs.append(f"values: Invalid value: {_go_string_slice(vals)}: exact-match compatibility requires one single value")
    elif operator in (EXISTS, DOES_NOT_EXIST):
        if n != 0:
            msgs.append(f"values: Invalid value: {_go_string_slice(vals)}: values set must be empty for exists and does not exist")
    elif operator in (GREATER_THAN, LESS_THAN):
        if n != 1:
            msgs.append(f"values: Invalid value: {_go_string_slice(vals)}: for 'Gt', 'Lt' operators, exactly one value is required")
        for i, v in enumerate(vals or ()):
            if _parse_int64(v) is None:
                msgs.append(f"values[{i}]: Invalid value: {go_quote(v)}: for 'Gt', 'Lt' operators, the value must be an integer")
    else:
        supported = ", ".join(go_quote(o) for o in (*_BINARY, EXISTS, DOES_NOT_EXIST))
        msgs.append(f"operator: Unsupported value: {go_quote(operator)}: supported values: {supported}")
    for i, v in enumerate(vals or ()):
        val_errs = label_value_errors(v)
        if val_errs:
            msgs.append(f"values[{i}][{key}]: Invalid value: {go_quote(v)}: {'; '.join(val_errs)}")
    if msgs:
        raise errors.BadRequest(_aggregate(msgs))
    return Requirement(key, operator, tuple(vals or ()))


# -- the query-string syntax ------------------------------------------------------------------

# token kinds
_EOS, _ERROR, _IDENT = "end", "error", "identifier"
_SPECIAL = frozenset("=!(),><")
_SPACE = frozenset(" \t\r\n")
_SYMBOLS = {")": ")", ",": ",", "!": "!", "==": "==", "=": "=", ">": ">", "<": "<", "!=": "!=", "(": "("}
_KEYWORDS = {"in": IN, "notin": NOT_IN}
_NUL = "\x00"  # upstream's lexer reads a NUL byte as the end of input


def _lex(text: str) -> list[tuple[str, str]]:
    """(kind, literal) tokens ending with the end-of-input token, as upstream's lexer cuts them."""
    pos = 0
    n = len(text)

    def read() -> str:
        nonlocal pos
        if pos < n:
            pos += 1
            return text[pos - 1]
        return _NUL

    tokens: list[tuple[str, str]] = []
    while True:
        ch = read()
        while ch in _SPACE:
            ch = read()
        if ch == _NUL:
            tokens.append((_EOS, ""))
            return tokens
        pos -= 1
        if ch in _SPECIAL:
            buf, last = "", ""
            while True:
                c = read()
                if c == _NUL:
                    break
                if c not in _SPECIAL:
                    pos -= 1
                    break
                buf += c
                if buf in _SYMBOLS:
                    last = buf
                elif last:
                    pos -= 1
                    break
            tokens.append((_SYMBOLS[last], last) if last else (_ERROR, f"error expected: keyword found '{buf}'"))
        else:
            start = pos
            while True:
                end = pos
                c = read()
                if c == _NUL:
                    break
                if c in _SPECIAL or c in _SPACE:
                    pos -= 1
                    break
            word = text[start:end]
            tokens.append((_KEYWORDS.get(word, _IDENT), word))


class _Parser:
    """Upstream's recursive descent over the token list; `in`/`notin` read as words in value
    positions, exactly as upstream's "values" context does."""

    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    def _look(self, values: bool = True) -> tuple[str, str]:
        kind, lit = self.items[self.pos]
        return (_IDENT if values and kind in (IN, NOT_IN) else kind), lit

    def _take(self, values: bool = True) -> tuple[str, str]:
        tok = self._look(values)
        self.pos += 1
        return tok

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            kind, lit = self._look()
            if kind == _EOS:
                return reqs
            if kind not in (_IDENT, "!"):
                raise errors.BadRequest(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                reqs.append(self._requirement())
            except _Syntax as e:
                raise errors.BadRequest(f"unable to parse requirement: {e}") from None
            except errors.BadRequest as e:
                raise errors.BadRequest(f"unable to parse requirement: {e.message}") from None
            kind, lit = self._take()
            if kind == _EOS:
                return reqs
            if kind != ",":
                raise errors.BadRequest(f"found '{lit}', expected: ',' or 'end of string'")
            kind, lit = self._look()
            if kind not in (_IDENT, "!"):
                raise errors.BadRequest(f"found '{lit}', expected: identifier after ','")

    def _requirement(self) -> Requirement:
        operator = ""
        kind, key = self._take()
        if kind == "!":
            operator = DOES_NOT_EXIST
            kind, key = self._take()
        if kind != _IDENT:
            raise _Syntax(f"found '{key}', expected: identifier")
        key_errs = label_key_errors(key)
        if key_errs:
            raise _Syntax(f"<nil>: Invalid value: {go_quote(key)}: {'; '.join(key_errs)}")
        if self._look()[0] in (_EOS, ","):
            operator = operator or EXISTS
        if operator in (EXISTS, DOES_NOT_EXIST):
            return new_requirement(key, operator, [])
        kind, lit = self._take(values=False)
        ops = {IN: IN, NOT_IN: NOT_IN, "=": EQUALS, "==": DOUBLE_EQUALS, "!=": NOT_EQUALS,
               ">": GREATER_THAN, "<": LESS_THAN}
        if kind not in ops:
            raise _Syntax(f"found '{lit}', expected: {', '.join(_BINARY)}")
        operator = ops[kind]
        values = self._set_values() if operator in (IN, NOT_IN) else self._exact_value()
        return new_requirement(key, operator, sorted(values))

    def _set_values(self) -> set[str]:
        kind, lit = self._take()
        if kind != "(":
            raise _Syntax(f"found '{lit}' expected: '('")
        kind, lit = self._look()
        if kind == ")":
            self._take()
            return {""}
        if kind not in (_IDENT, ","):
            raise _Syntax(f"found '{lit}', expected: ',', ')' or identifier")
        values = self._identifiers()
        self._take()  # the ')' the list stopped at
        return values

    def _identifiers(self) -> set[str]:
        # mirrors upstream 1.33, whose handling of ",," skips the token after the second comma
        values: set[str] = set()
        while True:
            kind, lit = self._take()
            if kind == _IDENT:
                values.add(lit)
                nxt, nlit = self._look()
                if nxt == ",":
                    continue
                if nxt == ")":
                    return values
                raise _Syntax(f"found '{nlit}', expected: ',' or ')'")
            if kind == ",":
                if not values:
                    values.add("")
                nxt, _ = self._look()
                if nxt == ")":
                    values.add("")
                    return values
                if nxt == ",":
                    self._take()
                    values.add("")
                continue
            raise _Syntax(f"found '{lit}', expected: ',', or identifier")

    def _exact_value(self) -> set[str]:
        if self._look()[0] in (_EOS, ","):
            return {""}
        kind, lit = self._take()
        if kind == _IDENT:
            return {lit}
        raise _Syntax(f"found '{lit}', expected: identifier")


class _Syntax(Exception):
    """A grammar error inside one requirement (reported with upstream's prefix)."""


def parse_label_selector(text: str) -> LabelSelector:
    """The `labelSelector=` query syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`,
    `a` (exists), `!a` (does not exist), `a>1`, `a<1`, joined by commas (AND).

    Errors are 400 BadRequest with upstream's messages, which kubectl shows verbatim.
    """
    return LabelSelector(_Parser(text).parse())


# -- metav1.LabelSelector ---------------------------------------------------------------------

_EXPRESSION_OPS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def label_selector_from_dict(sel: Mapping[str, Any] | None) -> LabelSelector:
    """A `metav1.LabelSelector` as upstream's LabelSelectorAsSelector reads it: null selects
    nothing, `{}` (no labels, no expressions) selects everything. `In`/`NotIn` values keep
    their given order; a bad key, value or operator raises BadRequest with upstream's text."""
    if sel is None:
        return LabelSelector(nothing=True)
    match_labels = sel.get("matchLabels") or {}
    expressions = sel.get("matchExpressions") or []
    if not match_labels and not expressions:
        return LabelSelector()
    reqs = [new_requirement(str(k), EQUALS, [_label_text(v)]) for k, v in match_labels.items()]
    for expr in expressions:
        op = _EXPRESSION_OPS.get(expr.get("operator") or "")
        if op is None:
            raise errors.BadRequest(f"{go_quote(str(expr.get('operator') or ''))} is not a valid label selector operator")
        given = expr.get("values")
        reqs.append(new_requirement(str(expr.get("key") or ""), op, None if not given else [_label_text(v) for v in given]))
    return LabelSelector(reqs)


def _label_text(v: Any) -> str:
    return v if isinstance(v, str) else ("true" if v is True else "false" if v is False else str(v))
