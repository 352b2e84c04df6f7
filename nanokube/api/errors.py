"""API failures as exceptions, each one turned into a `Status` object in one place.

Code raises the error where it finds the failure; the API server catches `ApiError` and
answers `err.status()` with `err.code`. The reasons and codes are upstream's.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Base of every failure that becomes a Status response."""

    code = 500
    reason = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        name: str | None = None,
        group: str | None = None,
        kind: str | None = None,
        causes: list[dict[str, str]] | None = None,
        retry_after: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.group = group
        self.kind = kind
        self.causes = causes or []
        self.retry_after = retry_after
        self.headers = dict(headers or {})

    def status(self) -> dict[str, Any]:
        details: dict[str, Any] = {}
        if self.name is not None:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind is not None:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = self.causes
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        out: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if details:
            out["details"] = details
        out["code"] = self.code
        return out


class BadRequest(ApiError):
    code = 400
    reason = "BadRequest"


class Unauthorized(ApiError):
    code = 401
    reason = "Unauthorized"


class Forbidden(ApiError):
    code = 403
    reason = "Forbidden"


class NotFound(ApiError):
    code = 404
    reason = "NotFound"


class MethodNotAllowed(ApiError):
    code = 405
    reason = "MethodNotAllowed"


class NotAcceptable(ApiError):
    code = 406
    reason = "NotAcceptable"


class AlreadyExists(ApiError):
    code = 409
    reason = "AlreadyExists"


class Conflict(ApiError):
    code = 409
    reason = "Conflict"


class Gone(ApiError):
    """A resourceVersion older than the retained history (`410 Expired`)."""

    code = 410
    reason = "Expired"


class RequestEntityTooLarge(ApiError):
    code = 413
    reason = "RequestEntityTooLarge"


class UnsupportedMediaType(ApiError):
    code = 415
    reason = "UnsupportedMediaType"


class Invalid(ApiError):
    code = 422
    reason = "Invalid"


class TooManyRequests(ApiError):
    code = 429
    reason = "TooManyRequests"


class InternalError(ApiError):
    code = 500
    reason = "InternalError"


class ServiceUnavailable(ApiError):
    code = 503
    reason = "ServiceUnavailable"


def not_found(resource: str, name: str, group: str = "") -> NotFound:
    what = f"{resource}.{group}" if group else resource
    return NotFound(f'{what} "{name}" not found', name=name, group=group, kind=resource)


def already_exists(resource: str, name: str, group: str = "") -> AlreadyExists:
    what = f"{resource}.{group}" if group else resource
    return AlreadyExists(f'{what} "{name}" already exists', name=name, group=group, kind=resource)


def conflict(resource: str, name: str, group: str = "", why: str = "") -> Conflict:
    what = f"{resource}.{group}" if group else resource
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return Conflict(
        f'Operation cannot be fulfilled on {what} "{name}": {why}',
        name=name,
        group=group,
        kind=resource,
    )


OMIT_VALUE: Any = object()  # upstream's field.OmitValueType: the message names no value


class FieldError:
    """One validation failure; `Invalid` carries a list of them as causes."""

    __slots__ = ("detail", "field", "kind", "value")

    # upstream's field.ErrorType values, rendered as cause reasons
    REASONS = {
        "required": "FieldValueRequired",
        "invalid": "FieldValueInvalid",
        "not_supported": "FieldValueNotSupported",
        "duplicate": "FieldValueDuplicate",
        "forbidden": "FieldValueForbidden",
        "too_long": "FieldValueTooLong",
        "too_many": "FieldValueTooMany",
        "type": "FieldValueTypeInvalid",
        "not_found": "FieldValueNotFound",
    }

    def __init__(self, kind: str, field: str, detail: str = "", value: Any = None) -> None:
        self.kind = kind
        self.field = field
        self.detail = detail
        self.value = value

    def message(self) -> str:
        if self.kind == "required":
            return f"{self.field}: Required value" + (f": {self.detail}" if self.detail else "")
        if self.kind == "not_found":
            return f"{self.field}: Not found: {_render(self.value)}"
        if self.kind == "forbidden":
            return f"{self.field}: Forbidden: {self.detail}"
        if self.kind == "duplicate":
            return f"{self.field}: Duplicate value: {_render(self.value)}"
        if self.kind == "not_supported":
            return f"{self.field}: Unsupported value: {_render(self.value)}" + (
                f": {self.detail}" if self.detail else ""
            )
        if self.kind == "too_long":
            return f"{self.field}: Too long: {self.detail}"
        if self.kind == "too_many":
            return f"{self.field}: Too many: {self.detail}"
        if self.kind == "type":
            return f"{self.field}: Invalid value: {_render(self.value)}: {self.detail}"
        if self.value is OMIT_VALUE:
            return f"{self.field}: Invalid value" + (f": {self.detail}" if self.detail else "")
        return f"{self.field}: Invalid value: {_render(self.value)}" + (
            f": {self.detail}" if self.detail else ""
        )

    def cause(self) -> dict[str, str]:
        msg = self.message()
        # the cause message repeats the text after "field: "
        return {
            "reason": self.REASONS.get(self.kind, "FieldValueInvalid"),
            "message": msg[len(self.field) + 2 :] if msg.startswith(self.field + ": ") else msg,
            "field": self.field,
        }

    def __repr__(self) -> str:
        return f"FieldError({self.message()!r})"


def _render(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def invalid(kind: str, name: str, errors: list[FieldError], group: str = "") -> Invalid:
    """The 422 upstream answers: one cause per field, all messages joined."""
    what = f"{kind}.{group}" if group else kind
    text = ", ".join(e.message() for e in errors)
    if len(errors) > 1:
        text = f"[{text}]"
    return Invalid(
        f'{what} "{name}" is invalid: {text}',
        name=name,
        group=group,
        kind=kind,
        causes=[e.cause() for e in errors],
    )
