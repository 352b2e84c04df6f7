"""PATCH bodies as the API server applies them: JSON patch, merge patch, strategic merge patch.

`apply_patch` is what a PATCH handler calls with the request's Content-Type and body; it
answers with the patched object or raises the `ApiError` upstream answers with. The three
appliers are also exposed for callers that already hold parsed data.

Upstream's appliers have quirks that clients can observe, and we keep them:

- JSON patch (RFC 6902) is evanphx/json-patch v4 semantics: `replace` of a missing object
  key adds it, negative array indices count from the end, a path without its leading `/`
  addresses the root's last segment, `test` of a missing key against `null` passes, and
  every failure is a 422 whose message does not say which operation failed.
- Merge patch (RFC 7386) drops `null`s inside new objects (also inside arrays of objects),
  but not inside an array that replaces an object.
- Strategic merge patch: see `strategic.py`. Custom resources refuse it (415).

Field validation is taken at its default (`Warn`): the strict decoding of the body decides
the error messages for malformed bodies; unknown-field warnings are the caller's business.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from . import errors
from .jsoncopy import json_copy
from .schema import Node, Schema
from .gostyle import JSONSyntaxError, cannot_unmarshal, decode_json, json_kind
from .strategic import UnprocessablePatch, strategic_merge

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
# what upstream accepts, in the order its 415 lists them
BUILTIN_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)
CUSTOM_TYPES = (JSON_PATCH, MERGE_PATCH, APPLY_PATCH)

MAX_OPERATIONS = 10000
MAX_COPY_BYTES = 3 * 1024 * 1024

__all__ = [
    "BUILTIN_TYPES",
    "CUSTOM_TYPES",
    "JSON_PATCH",
    "MERGE_PATCH",
    "STRATEGIC_PATCH",
    "UnprocessablePatch",
    "apply_patch",
    "check_media_type",
    "json_patch",
    "merge_patch",
    "strategic_merge",
]


class _GenericUnsupported(errors.UnsupportedMediaType):
    """The 415 upstream's router answers before the handler runs (empty `details`)."""

    def status(self) -> dict[str, Any]:
        out = super().status()
        code = out.pop("code")
        out["details"] = {}
        out["code"] = code
        return out


def apply_patch(content_type: str, original: dict[str, Any], body: bytes, schema_node: Node | None,
                schema: Schema, *, strategic_allowed: bool = True) -> dict[str, Any]:
    """The object after the PATCH; `original` is not modified.

    `strategic_allowed` is False for custom resources: upstream serves them without
    strategic merge patch and lists only the other types in its 415. Apply patches
    (`application/apply-patch+yaml`) are server-side apply's and must not come here.
    """
    media = check_media_type(content_type, strategic_allowed=strategic_allowed)
    if media == APPLY_PATCH:
        raise ValueError("apply patches are server-side apply's (nanokube.api.apply)")
    if media == JSON_PATCH:
        return json_patch(original, _json_patch_ops(body))
    if media == MERGE_PATCH:
        doc = _decode(body, prefix="error decoding patch: ")
        if doc is None:
            raise errors.BadRequest("Invalid JSON Patch")
        if not isinstance(doc, dict):
            raise errors.BadRequest(f"error decoding patch: {cannot_unmarshal(doc, 'map[string]interface {}')}")
        return merge_patch(original, doc)
    doc = _decode(body, prefix="")
    if doc is not None and not isinstance(doc, dict):
        raise errors.BadRequest(cannot_unmarshal(doc, "map[string]interface {}"))
    return strategic_merge(original, doc or {}, schema_node, schema)


def check_media_type(content_type: str, *, strategic_allowed: bool = True) -> str:
    """The patch type a Content-Type names, or the 415 upstream answers.

    Built-in kinds are routed first (the router compares each comma-separated type with its
    parameters cut off and spaces trimmed, and answers a bare "415: Unsupported Media
    Type"); then the handler cuts the header at its first `;`, without trimming, and lists
    what it accepts when the rest is not one of them. Custom resources only have the
    handler's check.
    """
    accepted = BUILTIN_TYPES if strategic_allowed else CUSTOM_TYPES
    if strategic_allowed:
        candidates = [part.split(";", 1)[0].strip(" ") for part in (content_type or "application/octet-stream").split(",")]
        if not any(c in accepted for c in candidates):
            raise _GenericUnsupported("415: Unsupported Media Type")
    cut = content_type.find(";")
    media = content_type[:cut] if cut > 0 else content_type
    if media not in accepted:
        raise errors.UnsupportedMediaType(
            "the body of the request was in an unknown format - accepted media types include: " + ", ".join(accepted))
    return media


# -- merge patch ---------------------------------------------------------------------------


def merge_patch(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 as upstream applies it: objects merge, `null` deletes, the rest replaces.

    A new value (nothing or a non-object under it) loses its null-valued keys at every depth;
    a value replacing an existing object is taken as sent.
    """
    if not isinstance(patch, dict):
        raise errors.BadRequest("Invalid JSON Patch")
    out: dict[str, Any] = json_copy(original)
    _merge_into(out, json_copy(patch))
    return out


def _merge_into(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            doc.pop(key, None)
            continue
        current = doc.get(key)
        if not isinstance(current, dict):  # nothing, null or not an object: take it as new
            _prune_nulls(value)
            doc[key] = value
        elif isinstance(value, dict):
            _merge_into(current, value)
        else:
            doc[key] = value


def _prune_nulls(value: Any) -> None:
    if isinstance(value, dict):
        for k in [k for k, v in value.items() if v is None]:
            del value[k]
        for v in value.values():
            _prune_nulls(v)
    elif isinstance(value, list):
        for v in value:
            if v is not None:
                _prune_nulls(v)


# -- JSON patch ----------------------------------------------------------------------------


class _OpError(Exception):
    """One operation failed; upstream keeps the reason to itself and answers 422."""


def json_patch(original: dict[str, Any], ops: list[Any]) -> dict[str, Any]:
    """RFC 6902 operations applied in order, with upstream's (evanphx/json-patch v4) rules."""
    if not isinstance(ops, list):
        raise errors.BadRequest(f"error decoding patch: {cannot_unmarshal(ops, '[]handlers.jsonPatchOp')}")
    if len(ops) > MAX_OPERATIONS:
        raise errors.RequestEntityTooLarge(
            f"The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {len(ops)}")
    doc = _JsonDoc(json_copy(original))
    for op in json_copy(ops):
        try:
            doc.apply(op if isinstance(op, dict) else {})
        except _OpError as e:
            raise UnprocessablePatch(str(e)) from None
    if not isinstance(doc.root, dict):
        text = orjson.dumps(doc.root).decode()
        detail = ("couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of "
                  'type struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string '
                  '"json:\\"kind,omitempty\\"" }')
        message = f"patch: Invalid value: {json.dumps(text, ensure_ascii=False)}: {detail}"
        raise errors.Invalid(f' "" is invalid: {message}',
                             causes=[{"reason": "FieldValueInvalid", "message": message[len("patch: "):],
                                      "field": "patch"}])
    return doc.root


_MISSING = "missing value"
_BAD_INDEX = "invalid index referenced"


class _JsonDoc:
    """The document being patched; the root can be replaced by an array or another object."""

    def __init__(self, root: Any) -> None:
        self.root = root
        self.copied = 0

    def apply(self, op: dict[str, Any]) -> None:
        kind = op.get("op") if isinstance(op.get("op"), str) else "unknown"
        if kind == "add":
            path = self.path(op, "path", "add operation failed to decode path: " + _MISSING)
            con, key = self.find(path)
            if con is None:
                raise _OpError(f'add operation does not apply: doc is missing path: "{path}": {_MISSING}')
            self.wrap(lambda: _add(con, key, op.get("value")), f"error in add for path: '{path}'")
        elif kind == "remove":
            path = self.path(op, "path", "remove operation failed to decode path: " + _MISSING)
            con, key = self.find(path)
            if con is None:
                raise _OpError(f'remove operation does not apply: doc is missing path: "{path}": {_MISSING}')
            self.wrap(lambda: _remove(con, key), f"error in remove for path: '{path}'")
        elif kind == "replace":
            self.replace(op)
        elif kind == "move":
            self.move(op)
        elif kind == "test":
            self.test(op)
        elif kind == "copy":
            self.copy(op)
        else:
            raise _OpError(f"Unexpected kind: {kind}")

    @staticmethod
    def path(op: dict[str, Any], field: str, missing: str | None = None) -> str:
        value = op.get(field)
        if missing is not None and not isinstance(value, str):
            raise _OpError(missing)
        if value is None:
            what = "operation missing path field" if field == "path" else "operation, missing from field"
            raise _OpError(f"{what}: {_MISSING}")
        if not isinstance(value, str):
            raise _OpError(f"json: cannot unmarshal {json_kind(value)} into Go value of type string")
        return value

    @staticmethod
    def wrap(action: Any, context: str) -> Any:
        try:
            return action()
        except _OpError as e:
            raise _OpError(f"{context}: {e}") from None

    def find(self, path: str) -> tuple[Any, str]:
        """The container holding the last segment of `path`, and that segment (unescaped)."""
        parts = path.split("/")
        if len(parts) < 2:
            return None, ""
        node = self.root
        for part in parts[1:-1]:
            try:
                node = _get(node, _unescape(part))
            except _OpError:
                return None, ""
            if not isinstance(node, dict | list):
                return None, ""
        return node, _unescape(parts[-1])

    def replace(self, op: dict[str, Any]) -> None:
        try:
            path = self.path(op, "path")
        except _OpError as e:
            raise _OpError(f"replace operation failed to decode path: {e}") from None
        if path == "":
            value = op.get("value")
            if not isinstance(value, dict | list):
                raise _OpError("replace operation value must be object or array: %!w(<nil>)")
            self.root = value
            return
        con, key = self.find(path)
        if con is None:
            raise _OpError(f"replace operation does not apply: doc is missing path: {path}: {_MISSING}")
        try:
            _get(con, key)
        except _OpError:
            raise _OpError(f"replace operation does not apply: doc is missing key: {path}: {_MISSING}") from None
        self.wrap(lambda: _set(con, key, op.get("value")), f"error in remove for path: '{path}'")

    def move(self, op: dict[str, Any]) -> None:
        try:
            source = self.path(op, "from")
        except _OpError as e:
            raise _OpError(f"move operation failed to decode from: {e}") from None
        con, key = self.find(source)
        if con is None:
            raise _OpError(f"move operation does not apply: doc is missing from path: {source}: {_MISSING}")
        value = self.wrap(lambda: _get(con, key), f"error in move for path: '{key}'")
        self.wrap(lambda: _remove(con, key), f"error in move for path: '{key}'")
        try:
            path = self.path(op, "path")
        except _OpError as e:
            raise _OpError(f"move operation failed to decode path: {e}") from None
        con, key = self.find(path)
        if con is None:
            raise _OpError(f"move operation does not apply: doc is missing destination path: {path}: {_MISSING}")
        self.wrap(lambda: _add(con, key, value), f"error in move for path: '{path}'")

    def test(self, op: dict[str, Any]) -> None:
        try:
            path = self.path(op, "path")
        except _OpError as e:
            raise _OpError(f"test operation failed to decode path: {e}") from None
        failed = _OpError(f"testing value {path} failed: test failed")
        if path == "":
            if "value" not in op or not _json_equal(self.root, op["value"]):
                raise failed
            return
        con, key = self.find(path)
        if con is None:
            raise _OpError(f"test operation does not apply: is missing path: {path}: {_MISSING}")
        current = self.wrap(lambda: _get(con, key), f"error in test for path: '{path}'")
        expected = op.get("value")
        if current is None:
            if expected is not None:
                raise failed
        elif "value" not in op or not _json_equal(current, expected):
            raise failed

    def copy(self, op: dict[str, Any]) -> None:
        try:
            source = self.path(op, "from")
        except _OpError as e:
            raise _OpError(f"copy operation failed to decode from: {e}") from None
        con, key = self.find(source)
        if con is None:
            raise _OpError(f"copy operation does not apply: doc is missing from path: {source}: {_MISSING}")
        value = self.wrap(lambda: _get(con, key), f"error in copy for from: '{source}'")
        path = self.path(op, "path", "copy operation failed to decode path: " + _MISSING)
        con, key = self.find(path)
        if con is None:
            raise _OpError(f"copy operation does not apply: doc is missing destination path: {path}: {_MISSING}")
        if value is not None:
            self.copied += len(orjson.dumps(value))
            if self.copied > MAX_COPY_BYTES:
                raise _OpError(f"Unable to complete the copy, the accumulated size increase of copy is "
                               f"{self.copied}, exceeding the limit {MAX_COPY_BYTES}")
        self.wrap(lambda: _add(con, key, json_copy(value)), "error while adding value during copy")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~") if "~" in token else token


def _atoi(key: str) -> int:
    """Go's strconv.Atoi: an optional sign and decimal digits, within 64 bits."""
    digits = key[1:] if key[:1] in ("+", "-") else key
    if not digits or not digits.isascii() or not digits.isdigit():
        raise _OpError(f'strconv.Atoi: parsing "{key}": invalid syntax')
    value = int(key)
    if not -(2**63) <= value < 2**63:
        raise _OpError(f'strconv.Atoi: parsing "{key}": value out of range')
    return value


def _index(items: list[Any], key: str, *, extra: int = 0) -> int:
    """An array index (negative ones count from the end), checked against len+extra."""
    idx = _atoi(key)
    size = len(items) + extra
    if idx >= size or idx < -size:
        raise _OpError(f"Unable to access invalid index: {idx}: {_BAD_INDEX}")
    return idx + size if idx < 0 else idx


def _get(con: Any, key: str) -> Any:
    if isinstance(con, dict):
        return con.get(key)
    return con[_index(con, key)]


def _set(con: Any, key: str, value: Any) -> None:
    if isinstance(con, dict):
        con[key] = value
    else:
        con[_index(con, key)] = value


def _add(con: Any, key: str, value: Any) -> None:
    if isinstance(con, dict):
        con[key] = value
    elif key == "-":
        con.append(value)
    else:
        try:
            idx = _atoi(key)
        except _OpError as e:
            raise _OpError(f"value was not a proper array index: '{key}': {e}") from None
        con.insert(_index(con, str(idx), extra=1), value)


def _remove(con: Any, key: str) -> None:
    if isinstance(con, dict):
        if key not in con:
            raise _OpError(f"Unable to remove nonexistent key: {key}: {_MISSING}")
        del con[key]
    else:
        del con[_index(con, key)]


def _json_equal(a: Any, b: Any) -> bool:
    """`test` equality: same JSON type and value; numbers compare by value, not by spelling."""
    if isinstance(a, dict):
        if not isinstance(b, dict) or len(a) != len(b):
            return False
        for k, v in a.items():
            if k not in b or (v is None) != (b[k] is None):
                return False
            if v is not None and not _json_equal(v, b[k]):
                return False
        return True
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(
            (x is None and y is None) or (x is not None and _json_equal(x, y)) for x, y in zip(a, b))
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# -- decoding request bodies ---------------------------------------------------------------


def _json_patch_ops(body: bytes) -> list[Any]:
    """The operations of a JSON patch body, checked as upstream's strict decoding does."""
    doc = _decode(body, prefix="error decoding patch: ")
    if doc is None:
        return []
    if not isinstance(doc, list):
        raise errors.BadRequest(f"error decoding patch: {cannot_unmarshal(doc, '[]handlers.jsonPatchOp')}")
    for op in doc:
        if op is None:
            continue
        if not isinstance(op, dict):
            raise errors.BadRequest(f"error decoding patch: {cannot_unmarshal(op, 'handlers.jsonPatchOp')}")
        for field in ("op", "path", "from"):
            value = op.get(field)
            if value is not None and not isinstance(value, str):
                raise errors.BadRequest(f"error decoding patch: json: cannot unmarshal {json_kind(value)} into Go "
                                        f"struct field jsonPatchOp.{field} of type string")
    return doc


def _decode(body: bytes, *, prefix: str) -> Any:
    """Parse a request body; a syntax error is a 400 in Go's words, after `prefix`."""
    try:
        return decode_json(body)
    except JSONSyntaxError as e:
        raise errors.BadRequest(prefix + str(e)) from None
