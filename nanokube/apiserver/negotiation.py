"""Request bodies in, response formats out: JSON, YAML and protobuf bodies; Table and
PartialObjectMetadata answers chosen from the Accept header, as upstream negotiates them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from ..api import errors

MAX_BODY_BYTES = 3 * 1024 * 1024  # upstream's request body limit

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"

try:  # the C loader is many times faster; PyYAML falls back to pure Python without libyaml
    _YamlLoader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _YamlLoader = yaml.SafeLoader


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise errors.BadRequest(f"the object provided is unrecognized (json parse error: {e})") from None


def parse_yaml(raw: bytes) -> Any:
    try:
        return yaml.load(raw, Loader=_YamlLoader)
    except yaml.YAMLError as e:
        raise errors.BadRequest(f"the object provided is unrecognized (yaml parse error: {e})") from None


def decode_body(content_type: str | None, raw: bytes) -> dict[str, Any]:
    """An object from a create/update body in any media type upstream accepts."""
    mt = media_type(content_type)
    if mt in ("", JSON, "*/*"):
        obj = parse_json(raw)
    elif mt in (YAML, "application/x-yaml", "text/yaml"):
        obj = parse_yaml(raw)
    elif mt == PROTOBUF:
        from ..api import protobuf

        obj = protobuf.decode(raw)
    else:
        raise errors.UnsupportedMediaType(
            f'the body of the request was in an unknown format - accepted media types include: '
            f'{JSON}, {YAML}, {PROTOBUF}'
        )
    if not isinstance(obj, dict):
        raise errors.BadRequest("the object provided is unrecognized: a JSON object is required")
    return obj


@dataclass(frozen=True)
class Rendering:
    """What the client asked the response to be."""

    as_kind: str = ""  # "", "Table", "PartialObjectMetadata", "PartialObjectMetadataList"
    version: str = ""  # meta.k8s.io version of the wrapper: v1 or v1beta1


def negotiate(accept: str | None) -> Rendering:
    """The first Accept alternative we can serve wins, as upstream's negotiator does."""
    if not accept:
        return Rendering()
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        mt = fields[0].lower()
        params = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
        as_kind = params.get("as", "")
        if mt not in (JSON, "*/*", "application/*", PROTOBUF, YAML):
            continue
        if not as_kind:
            return Rendering()
        if params.get("g") != "meta.k8s.io":
            continue
        version = params.get("v", "")
        if as_kind in ("Table", "PartialObjectMetadata", "PartialObjectMetadataList") and version in (
            "v1", "v1beta1"
        ):
            return Rendering(as_kind, version)
    raise errors.NotAcceptable(
        "only the following media types are accepted: application/json, application/yaml, "
        "application/vnd.kubernetes.protobuf, application/json;as=Table;v=v1;g=meta.k8s.io"
    )


def partial_metadata(obj: dict[str, Any], version: str = "v1") -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": obj.get("metadata") or {},
    }
