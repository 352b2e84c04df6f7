"""JSONPath as CRD printer columns use it, with the quirks of upstream's evaluator.

A column's path is evaluated the way client-go's `jsonpath` package does with missing keys
allowed: `.a.b`, `.a[0]`, `.a[-1]`, `.a[1:3]`, `.a[*]`, `.*`, `..name`, unions `[0,2]`,
`['key']` (whose key is read as a dotted path, as upstream reads it), escaped dots
`.metadata.labels.app\\.kubernetes\\.io/name`, and filters
`[?(@.type=="Ready")]`, `[?(@.n>2)]`, `[?(@.x)]`.

What matters for a table cell is the same as upstream: a missing field gives no result, but
an index out of range, indexing something that is not a list, or comparing values of
different types is an error, and the cell is then empty.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class PathError(ValueError):
    """The path does not parse, or evaluating it failed."""


@dataclass(frozen=True)
class _Param:
    value: int
    known: bool
    derived: bool = False


Node = tuple[Any, ...]
_TERMINATORS = set(" \t\r\n.,[]$@{}")
_SLICE = re.compile(r"^(-?\d*)(:-?\d*)?(:-?\d*)?$")
_DICT_KEY = re.compile(r"^'([^']*)'$")
_FILTER = re.compile(r"^([^!<>=]+)([!<>=~]+)(.+?)$", re.S)


# -- parsing ----------------------------------------------------------------------------------


def parse(path: str) -> list[Node]:
    """The nodes of a column path (the text CRDs give, without the surrounding braces)."""
    nodes: list[Node] = []
    _parse_into(path, 0, nodes)
    return nodes


def _parse_into(text: str, pos: int, out: list[Node]) -> None:
    while pos < len(text):
        if text.startswith("[?(", pos):
            pos = _parse_filter(text, pos + 3, out)
            continue
        if text.startswith("..", pos):
            if out and out[-1][0] == "recursive":
                raise PathError("invalid multiple recursive descent")
            out.append(("recursive",))
            pos += 2
            if pos < len(text) and _alnum(text[pos]):
                pos = _parse_field(text, pos, out)
            continue
        ch = text[pos]
        if ch in "\r\n" or ch == "}":
            raise PathError("unclosed action" if ch != "}" else "unexpected }")
        if ch in " @$":
            pos += 1
        elif ch == "[":
            pos = _parse_array(text, pos + 1, out)
        elif ch in "\"'":
            pos = _parse_quote(text, pos, ch, out)
        elif ch == ".":
            pos = _parse_field(text, pos + 1, out)
        elif ch in "+-" or ch.isdigit():
            pos = _parse_number(text, pos, out)
        elif _alnum(ch):
            end = pos
            while end < len(text) and text[end] not in _TERMINATORS:
                end += 1
            word = text[pos:end]
            if word not in ("true", "false"):
                raise PathError(f"unsupported identifier {word!r}")
            out.append(("literal", word == "true"))
            pos = end
        else:
            raise PathError(f"unrecognized character in action: {ch!r}")


def _alnum(ch: str) -> bool:
    return ch == "_" or ch.isalpha() or ch.isdigit()


def _parse_field(text: str, pos: int, out: list[Node]) -> int:
    start = pos
    while pos < len(text):
        ch = text[pos]
        if ch == "\\":
            pos += 2
            continue
        if ch in _TERMINATORS:
            break
        pos += 1
    name = text[start:pos]
    out.append(("wildcard",) if name == "*" else ("field", name.replace("\\", "")))
    return pos


def _parse_number(text: str, pos: int, out: list[Node]) -> int:
    start = pos
    if text[pos] in "+-":
        pos += 1
    while pos < len(text) and (text[pos] == "." or text[pos].isdigit()):
        pos += 1
    word = text[start:pos]
    try:
        out.append(("literal", int(word)))
    except ValueError:
        try:
            out.append(("literal", float(word)))
        except ValueError:
            raise PathError(f"cannot parse number {word}") from None
    return pos


def _parse_quote(text: str, pos: int, quote: str, out: list[Node]) -> int:
    end = pos + 1
    while True:
        if end >= len(text) or text[end] == "\n":
            raise PathError("unterminated quoted string")
        if text[end] == quote and text[end - 1] != "\\":
            break
        end += 1
    body = text[pos + 1:end]
    try:
        value = body.encode("latin-1", "backslashreplace").decode("unicode_escape") if "\\" in body else body
    except UnicodeDecodeError:
        raise PathError(f"unquote string {text[pos:end + 1]}") from None
    out.append(("literal", value))
    return end + 1


def _parse_array(text: str, pos: int, out: list[Node]) -> int:
    end = pos
    while True:
        if end >= len(text) or text[end] == "\n":
            raise PathError("unterminated array")
        if text[end] == "]":
            break
        end += 1
    inner = text[pos:end]
    if inner == "*":
        inner = ":"
    parts = inner.split(",")
    if len(parts) > 1:
        branches = []
        for part in parts:
            branch: list[Node] = []
            _parse_array(f"{part.strip(' ')}]", 0, branch)
            branches.append(branch)
        out.append(("union", branches))
        return end + 1
    key = _DICT_KEY.match(inner)
    if key:
        _parse_field_chain(key.group(1), out)
        return end + 1
    m = _SLICE.match(inner)
    if not m:
        raise PathError(f"invalid array index {inner}")
    params: list[_Param] = []
    for i, raw in enumerate(m.groups()):
        raw = raw or ""
        if raw:
            if i > 0:
                raw = raw[1:]
            if i > 0 and raw == "":
                params.append(_Param(0, False))
            else:
                params.append(_Param(int(raw), True))
        elif i == 1:
            params.append(_Param(params[0].value + 1, True, True))
        else:
            params.append(_Param(0, False))
    out.append(("array", tuple(params)))
    return end + 1


def _parse_field_chain(key: str, out: list[Node]) -> None:
    """`['a.b']`: upstream re-reads the key as the path `.a.b`."""
    _parse_into("." + key, 0, out)


def _parse_filter(text: str, pos: int, out: list[Node]) -> int:
    start = pos
    begin = end = False
    pair = ""
    while True:
        if pos >= len(text) or text[pos] == "\n":
            raise PathError("unterminated filter")
        ch = text[pos]
        pos += 1
        if ch in "\"'":
            if not begin:
                begin, pair = True, ch
                continue
            if text[pos - 2] != "\\" and ch == pair:
                end = True
        elif ch == ")" and begin == end:
            break
    if pos >= len(text) or text[pos] != "]":
        raise PathError("unclosed array expect ]")
    body = text[start:pos - 1]
    m = _FILTER.match(body)
    left: list[Node] = []
    right: list[Node] = []
    if m is None:
        _parse_into(body, 0, left)
        out.append(("filter", left, "exists", right))
    else:
        _parse_into(m.group(1), 0, left)
        _parse_into(m.group(3), 0, right)
        out.append(("filter", left, m.group(2), right))
    return pos + 1


# -- evaluation -------------------------------------------------------------------------------


def find(path: str, data: Any) -> list[Any]:
    """Every value the path reaches in `data`; raises PathError where upstream reports an error."""
    return _walk_list([data], parse(path))


def _walk_list(values: list[Any], nodes: list[Node]) -> list[Any]:
    for node in nodes:
        values = _walk(values, node)
    return values


def _children(v: Any) -> list[Any]:
    if isinstance(v, Mapping):
        return list(v.values())
    if isinstance(v, list):
        return list(v)
    if isinstance(v, str):
        return list(v.encode())
    return []


def _walk(values: list[Any], node: Node) -> list[Any]:
    kind = node[0]
    if kind == "field":
        return [v[node[1]] for v in values if isinstance(v, Mapping) and node[1] in v]
    if kind == "wildcard":
        return [c for v in values if v is not None for c in _children(v)]
    if kind == "recursive":
        return _recursive(values)
    if kind == "array":
        return _array(values, node[1])
    if kind == "union":
        return [x for branch in node[1] for x in _walk_list(values, branch)]
    if kind == "filter":
        return _filter(values, node[1], node[2], node[3])
    if kind == "literal":
        return [node[1] for _ in values] if not isinstance(node[1], str) else [node[1]]
    raise PathError(f"unexpected node {kind}")


def _recursive(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v is None:
            continue
        kids = _children(v)
        if kids:
            out.append(v)
            out.extend(_recursive(kids))
    return out


def _array(values: list[Any], params: tuple[_Param, _Param, _Param]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v is None:
            continue
        if not isinstance(v, list):
            raise PathError(f"{type(v).__name__} is not array or slice")
        size = len(v)
        start = params[0].value if params[0].known else 0
        if start < 0:
            start += size
        stop = params[1].value if params[1].known else size
        if stop < 0 or (stop == 0 and params[1].derived):
            stop += size
        if stop == start:
            return out
        if start >= size or start < 0:
            raise PathError(f"array index out of bounds: index {start}, length {size}")
        if stop > size or stop < 0:
            raise PathError(f"array index out of bounds: index {stop - 1}, length {size}")
        if start > stop:
            raise PathError(f"starting index {start} is greater than ending index {stop}")
        step = 1
        if params[2].known:
            if params[2].value <= 0:
                raise PathError("step must be > 0")
            step = params[2].value
        out.extend(v[start:stop:step])
    return out


def _filter(values: list[Any], left: list[Node], op: str, right: list[Node]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if not isinstance(v, list):
            raise PathError("value is not array or slice and cannot be filtered")
        for item in v:
            if op == "exists":
                if _reaches([item], left):
                    out.append(item)
                continue
            lefts = _walk_list([item], left)
            if not lefts:
                continue
            if len(lefts) > 1:
                raise PathError("can only compare one element at a time")
            rights = _walk_list([item], right)
            if not rights:
                continue
            if len(rights) > 1:
                raise PathError("can only compare one element at a time")
            if _compare(lefts[0], op, rights[0]):
                out.append(item)
    return out


def _reaches(values: list[Any], nodes: list[Node]) -> bool:
    """For `[?(@.x)]`: whether anything is left; a failing step leaves what it was given."""
    for node in nodes:
        try:
            values = _walk(values, node)
        except PathError:
            break
    return bool(values)


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    raise PathError("invalid type for comparison")


def _equal(a: Any, b: Any) -> bool:
    if _kind(a) != _kind(b):
        raise PathError("incompatible types for comparison")
    return bool(a == b)


def _less(a: Any, b: Any) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka == "bool" or kb == "bool":
        raise PathError("invalid type for comparison")
    if ka != kb:
        raise PathError("incompatible types for comparison")
    return bool(a < b)


def _compare(a: Any, op: str, b: Any) -> bool:
    if op == "==":
        return _equal(a, b)
    if op == "!=":
        return not _equal(a, b)
    if op == "<":
        return _less(a, b)
    if op == "<=":
        return _less(a, b) or _equal(a, b)
    if op == ">":
        return not (_less(a, b) or _equal(a, b))
    if op == ">=":
        return not _less(a, b)
    if op == "=~":
        if not isinstance(a, str) or not isinstance(b, str):
            raise PathError("regexp search only supports strings")
        try:
            return re.search(b, a) is not None
        except re.error as e:
            raise PathError(str(e)) from None
    raise PathError(f"unrecognized filter operator {op}")
