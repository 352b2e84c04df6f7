"""Field paths and sets of them: what a managedFields entry says a manager owns.

A path is a tuple of elements, each one step into an object:

- ``("f", name)``: a field of a struct or a key of a map;
- ``("k", (("name", '"c"'), ...))``: the item of an associative list, by its key fields
  (sorted by name, each value held as canonical JSON text);
- ``("v", '"x"')``: the member of a set, by its value's canonical JSON text;
- ``("i", 3)``: a list item by position (readable, never produced by schema-aware code).

A set of fields is a plain Python ``set`` of paths. A path and a longer one below it may both
be members: the wire form (FieldsV1) then writes ``".": {}`` inside the longer one's parent,
which is how ``{"f:labels": {".": {}, "f:app": {}}}`` says "labels itself, and labels.app".

The text forms match upstream byte for byte (Go's JSON for key values, HTML-escaped, keys
sorted), since clients compare and display them.
"""

from __future__ import annotations

import decimal
import functools
import math
import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

Element = tuple[str, Any]
Path = tuple[Element, ...]
FieldSet = set[Path]

# managedFields never record these exact paths: the server owns them
STRIPPED: frozenset[Path] = frozenset(
    {(("f", "apiVersion"),), (("f", "kind"),), (("f", "metadata"),)}
    | {
        (("f", "metadata"), ("f", name))
        for name in (
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        )
    }
)

# --- Go's JSON text ------------------------------------------------------------------------

_GO_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


_PLAIN = re.compile(r'[^"\\<>&\x00-\x1f\u2028\u2029\ud800-\udfff]*')


def _go_string(s: str) -> str:
    if _PLAIN.fullmatch(s):
        return f'"{s}"'
    out = ['"']
    for ch in s:
        esc = _GO_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:
            out.append("\\ufffd")  # a lone surrogate is not UTF-8; Go writes the replacement
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _go_float(f: float) -> str:
    """A float64 as encoding/json writes it: shortest digits, exponent only when tiny or huge."""
    if math.isnan(f) or math.isinf(f):
        raise ValueError(f"unsupported value: {f}")
    a = abs(f)
    text = repr(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        mant, _, exp = text.partition("e")
        sign = exp[0] if exp[0] in "+-" else "+"
        digits = exp.lstrip("+-").lstrip("0") or "0"
        return f"{mant.removesuffix('.0')}e{sign}{digits}"
    text = format(decimal.Decimal(text), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def go_json(value: Any) -> str:
    """Compact JSON as Go writes it for an unstructured value (sorted keys, HTML escaped)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _go_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return _go_float(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_go_string(str(k))}:{go_json(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


# --- elements ------------------------------------------------------------------------------


def field(name: str) -> Element:
    return ("f", name)


def key(fields: dict[str, Any]) -> Element:
    """The element of an associative-list item whose key fields have these values."""
    return ("k", tuple(sorted((k, go_json(v)) for k, v in fields.items())))


def value(v: Any) -> Element:
    return ("v", go_json(v))


def key_fields(el: Element) -> dict[str, Any]:
    return {k: orjson.loads(v) for k, v in el[1]}


def _value_rank(v: Any) -> tuple[Any, ...]:
    """Upstream's ordering of values: numbers, strings, booleans, lists, maps, null."""
    if isinstance(v, bool):
        return (2, v)
    if isinstance(v, (int, float)):
        return (0, v)
    if isinstance(v, str):
        return (1, v)
    if isinstance(v, list):
        return (3, tuple(_value_rank(x) for x in v))
    if isinstance(v, dict):
        return (4, tuple((k, _value_rank(v[k])) for k in sorted(v)))
    return (5,)


@functools.lru_cache(maxsize=65536)
def sort_key(el: Element) -> tuple[Any, ...]:
    """Elements order as upstream's: fields, then keys, then values, then indexes."""
    kind, payload = el
    if kind == "f":
        return (0, payload)
    if kind == "k":
        return (1, tuple((name, _value_rank(orjson.loads(text))) for name, text in payload))
    if kind == "v":
        return (2, _value_rank(orjson.loads(payload)))
    return (3, payload)


def go_quote(s: str) -> str:
    """Go's %q of a string (strconv.Quote)."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append("\\" + "abfnrtv"["\a\b\f\n\r\t\v".index(ch)])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _to_string(v: Any) -> str:
    """A value as upstream prints it inside a path (`[name="c"]`)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return go_quote(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e21:
            return str(int(v))
        mant, _, exp = repr(v).partition("e")
        return mant if not exp else f"{mant}e{exp if exp[0] in '+-' else '+' + exp}"
    if isinstance(v, list):
        return "[" + ",".join(_to_string(x) for x in v) + "]"
    if isinstance(v, dict):
        return "".join(f"{k}={_to_string(x)}" for k, x in v.items())
    return str(v)


def element_string(el: Element) -> str:
    kind, payload = el
    if kind == "f":
        return f".{payload}"
    if kind == "k":
        return "[" + ",".join(f"{name}={_to_string(orjson.loads(text))}" for name, text in payload) + "]"
    if kind == "v":
        return f"[={_to_string(orjson.loads(payload))}]"
    return f"[{payload}]"


def path_string(path: Path) -> str:
    """`.spec.containers[name="c"].image`, as conflicts name fields."""
    return "".join(element_string(el) for el in path)


def serialize_element(el: Element) -> str:
    kind, payload = el
    if kind == "f":
        return f"f:{payload}"
    if kind == "k":
        return "k:{" + ",".join(f"{_go_string(name)}:{text}" for name, text in payload) + "}"
    if kind == "v":
        return f"v:{payload}"
    return f"i:{payload}"


def _canonical(v: Any) -> Any:
    """Numbers that are whole are integers: FieldsV1 may carry 80 as 80.0."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**63:
        return int(v)
    if isinstance(v, list):
        return [_canonical(x) for x in v]
    if isinstance(v, dict):
        return {k: _canonical(x) for k, x in v.items()}
    return v


def parse_element(token: str) -> Element | None:
    """The element a FieldsV1 key names; None for a kind of element this version does not know.

    Raises ValueError for a malformed one, as upstream refuses to decode it."""
    if len(token) < 2:
        raise ValueError("key must be 2 characters long")
    if token[1] != ":":
        raise ValueError(f"missing colon: {token}")
    kind, rest = token[0], token[2:]
    if kind == "f":
        return ("f", rest)
    if kind == "v":
        return ("v", go_json(_canonical(_loads(rest))))
    if kind == "k":
        obj = _loads(rest)
        if not isinstance(obj, dict):
            raise ValueError(f"expected an object in {token}")
        return key(_canonical(obj))
    if kind == "i":
        try:
            return ("i", int(rest))
        except ValueError:
            raise ValueError(f"invalid index in {token}") from None
    return None


def _loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise ValueError(f"invalid JSON in a managedFields key: {e}") from None


# --- trees: sets as nested maps ------------------------------------------------------------


class Tree:
    """A set of paths as a trie: which elements below this point are members, and what lies under them."""

    __slots__ = ("children", "member")

    def __init__(self) -> None:
        self.member = False
        self.children: dict[Element, Tree] = {}

    def child(self, el: Element) -> Tree | None:
        return self.children.get(el)


def tree(paths: Iterable[Path]) -> Tree:
    root = Tree()
    for p in paths:
        cur = root
        for el in p:
            nxt = cur.children.get(el)
            if nxt is None:
                nxt = cur.children[el] = Tree()
            cur = nxt
        cur.member = True
    return root


def iterate(paths: Iterable[Path]) -> Iterator[Path]:
    """The paths in upstream's order: at each level the members first, then what lies below."""

    def walk(node: Tree, prefix: Path) -> Iterator[Path]:
        items = sorted(node.children.items(), key=lambda kv: sort_key(kv[0]))
        for el, sub in items:
            if sub.member:
                yield (*prefix, el)
        for el, sub in items:
            if sub.children:
                yield from walk(sub, (*prefix, el))

    return walk(tree(paths), ())


def encode(paths: Iterable[Path]) -> dict[str, Any]:
    """The FieldsV1 object of a set of paths, keys in upstream's order."""

    def emit(node: Tree) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for el, sub in sorted(node.children.items(), key=lambda kv: sort_key(kv[0])):
            if sub.children:
                inner: dict[str, Any] = {".": {}} if sub.member else {}
                inner.update(emit(sub))
                out[serialize_element(el)] = inner
            else:
                out[serialize_element(el)] = {}
        return out

    return emit(tree(paths))


def decode(fields: Any) -> FieldSet:
    """The set a FieldsV1 object describes; ValueError when it cannot be read."""
    if fields is None:
        return set()
    if not isinstance(fields, dict):
        raise ValueError("FieldsV1 must be a JSON object")
    out: FieldSet = set()

    def walk(obj: dict[str, Any], prefix: Path) -> None:
        for token, sub in obj.items():
            if token == ".":
                continue
            el = parse_element(token)
            if el is None:
                continue
            p = (*prefix, el)
            if isinstance(sub, dict) and sub:
                if "." in sub:
                    out.add(p)
                before = len(out)
                walk(sub, p)
                if len(out) == before and "." not in sub:
                    out.add(p)  # only unknown kinds below: upstream reads it as a member
            elif sub is None or isinstance(sub, dict):
                out.add(p)
            else:
                raise ValueError(f"unexpected value for {token} in FieldsV1")

    walk(fields, ())
    return out


def recursive_difference(paths: FieldSet, exclude: Iterable[Path]) -> FieldSet:
    """`paths` without those in `exclude` and without anything below them."""
    ex = tuple(exclude)
    if not ex:
        return paths
    return {p for p in paths if not any(p[: len(e)] == e for e in ex)}
