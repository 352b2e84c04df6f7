"""Go behaviours that upstream's answers depend on, reproduced.

Upstream is written in Go, and some of what clients see comes from Go itself rather than
from Kubernetes: the order a stable sort leaves items in when the comparison is not a
strict order, how `fmt` prints a decoded JSON value inside an error message, and how the
JSON decoder words a syntax error. The patch appliers use these to answer exactly as
upstream does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson


class JSONSyntaxError(ValueError):
    """A request body that is not JSON, with Go's decoder's wording of the problem."""


def decode_json(body: bytes) -> Any:
    """Parse a JSON document as Go's decoder would (integers beyond 64 bits become floats)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    text = body.decode("utf-8", "replace")
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_int=_go_int)
    except json.JSONDecodeError as e:
        raise JSONSyntaxError(_syntax_message(e)) from None


def _reject_constant(name: str) -> Any:
    if name.startswith("-"):
        raise JSONSyntaxError(f"invalid character {_quote_char(name[1])} in numeric literal")
    raise JSONSyntaxError(f"invalid character {_quote_char(name[0])} looking for beginning of value")


def _go_int(text: str) -> int | float:
    """Integers beyond 64 bits decode as floats, as upstream's int-preserving decoder does."""
    value = int(text)
    return value if -(2**63) <= value < 2**63 else float(value)


def _syntax_message(e: json.JSONDecodeError) -> str:
    doc, pos, msg = e.doc, e.pos, e.msg
    if pos >= len(doc) or msg.startswith("Unterminated string"):
        return "unexpected end of JSON input"
    c = _quote_char(doc[pos])
    if msg.startswith("Expecting property name"):
        return f"invalid character {c} looking for beginning of object key string"
    if msg.startswith("Expecting ':'"):
        return f"invalid character {c} after object key"
    if msg.startswith("Expecting ','"):
        where = "object key:value pair" if _innermost_open(doc, pos) == "{" else "array element"
        return f"invalid character {c} after {where}"
    if msg.startswith("Extra data"):
        return f"invalid character {c} after top-level value"
    if msg.startswith("Invalid control character"):
        return f"invalid character {c} in string literal"
    if msg.startswith("Invalid \\uXXXX"):
        return f"invalid character {c} in \\u hexadecimal character escape"
    if msg.startswith("Invalid \\escape"):
        return f"invalid character {_quote_char(doc[pos + 1]) if pos + 1 < len(doc) else c} in string escape code"
    return _literal_message(doc, pos)


def _literal_message(doc: str, pos: int) -> str:
    """Go's words for a bad value start: a mistyped literal or number, or a stray character."""
    for word in ("true", "false", "null"):
        if doc[pos] == word[0]:
            for i, want in enumerate(word):
                if pos + i >= len(doc):
                    return "unexpected end of JSON input"
                if doc[pos + i] != want:
                    return f"invalid character {_quote_char(doc[pos + i])} in literal {word} (expecting {_quote_char(want)})"
    if doc[pos] == "-":
        if pos + 1 >= len(doc):
            return "unexpected end of JSON input"
        return f"invalid character {_quote_char(doc[pos + 1])} in numeric literal"
    return f"invalid character {_quote_char(doc[pos])} looking for beginning of value"


def _innermost_open(doc: str, pos: int) -> str:
    stack: list[str] = []
    in_string = escaped = False
    for ch in doc[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append(ch)
        elif ch in "}]" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def _quote_char(ch: str) -> str:
    """How Go quotes the offending character in its JSON syntax errors."""
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    escapes = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v", "\\": "\\\\"}
    if ch in escapes:
        return f"'{escapes[ch]}'"
    if ord(ch) < 0x20 or ord(ch) == 0x7F:
        return f"'\\x{ord(ch):02x}'"
    if not ch.isprintable():
        return f"'\\u{ord(ch):04x}'"
    return f"'{ch}'"


def json_kind(value: Any) -> str:
    """The JSON type name Go's decoder uses when a value does not fit its target."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "number"


def cannot_unmarshal(value: Any, go_type: str) -> str:
    """Go's decoder's complaint about `value` not fitting a value of `go_type`."""
    return f"json: cannot unmarshal {json_kind(value)} into Go value of type {go_type}"


def stable_sort(data: list[Any], less: Callable[[Any, Any], bool]) -> None:
    """Insertion-sorted blocks of 20 merged pairwise in place (SymMerge, Kim & Kutzner).

    The comparison upstream sorts with is not a strict order when items are missing from
    the reference list, so the result depends on the algorithm: this is the one Go's
    stable sort uses, hence the same result.
    """
    n = len(data)
    block = 20
    a, b = 0, block
    while b <= n:
        _insertion_sort(data, a, b, less)
        a, b = b, b + block
    _insertion_sort(data, a, n, less)
    while block < n:
        a, b = 0, 2 * block
        while b <= n:
            _sym_merge(data, a, a + block, b, less)
            a, b = b, b + 2 * block
        if a + block < n:
            _sym_merge(data, a, a + block, n, less)
        block *= 2


def _insertion_sort(data: list[Any], a: int, b: int, less: Callable[[Any, Any], bool]) -> None:
    for i in range(a + 1, b):
        j = i
        while j > a and less(data[j], data[j - 1]):
            data[j], data[j - 1] = data[j - 1], data[j]
            j -= 1


def _sym_merge(data: list[Any], a: int, m: int, b: int, less: Callable[[Any, Any], bool]) -> None:
    """Merge the sorted runs data[a:m] and data[m:b] in place."""
    if m - a == 1:
        lo, hi = m, b
        while lo < hi:
            h = (lo + hi) // 2
            if less(data[h], data[a]):
                lo = h + 1
            else:
                hi = h
        for k in range(a, lo - 1):
            data[k], data[k + 1] = data[k + 1], data[k]
        return
    if b - m == 1:
        lo, hi = a, m
        while lo < hi:
            h = (lo + hi) // 2
            if not less(data[m], data[h]):
                lo = h + 1
            else:
                hi = h
        for k in range(m, lo, -1):
            data[k], data[k - 1] = data[k - 1], data[k]
        return
    mid = (a + b) // 2
    n = mid + m
    if m > mid:
        start, r = n - b, mid
    else:
        start, r = a, m
    p = n - 1
    while start < r:
        c = (start + r) // 2
        if not less(data[p - c], data[c]):
            start = c + 1
        else:
            r = c
    end = n - start
    if start < m < end:
        _rotate(data, start, m, end)
    if a < start < mid:
        _sym_merge(data, a, start, mid, less)
    if mid < end < b:
        _sym_merge(data, mid, end, b, less)


def _rotate(data: list[Any], a: int, m: int, b: int) -> None:
    """Swap the blocks data[a:m] and data[m:b] with block swaps, as the merge expects."""
    i, j = m - a, b - m
    while i != j:
        if i > j:
            _swap_range(data, m - i, m, j)
            i -= j
        else:
            _swap_range(data, m - i, m + j - i, i)
            j -= i
    _swap_range(data, m - i, m, i)


def _swap_range(data: list[Any], a: int, b: int, n: int) -> None:
    for i in range(n):
        data[a + i], data[b + i] = data[b + i], data[a + i]


def go_type(value: Any) -> str:
    """The Go type a decoded JSON value has upstream (integers stay int64), as reflect names it."""
    if value is None:
        return "%!s(<nil>)"
    return {dict: "map[string]interface {}", list: "[]interface {}", str: "string", bool: "bool",
            int: "int64", float: "float64"}.get(type(value), type(value).__name__)


def go_s(value: Any) -> str:
    """Go's `%s` of a decoded JSON value."""
    if isinstance(value, str):
        return value
    if value is None:
        return "%!s(<nil>)"
    if isinstance(value, bool | int | float):
        return f"%!s({go_type(value)}={go_value(value)})"
    return go_value(value)


def go_value(value: Any) -> str:
    """Go's `%v` of a decoded JSON value (maps print with sorted keys)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_value(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_value(v) for v in value) + "]"
    return str(value)


def _go_float(f: float) -> str:
    """Go's `%v` of a float64: shortest digits, exponent form unless 1e-4 <= |f| < 1e6."""
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if str(f).startswith("-") else "0"
    sign, digits, exponent = Decimal(repr(f)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    exp = len(text) + exponent - 1
    neg = "-" if sign else ""
    if exp < -4 or exp >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{neg}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    point = exp + 1
    if point <= 0:
        return f"{neg}0.{'0' * -point}{text}"
    if point >= len(text):
        return f"{neg}{text}{'0' * (point - len(text))}"
    return f"{neg}{text[:point]}.{text[point:]}"
