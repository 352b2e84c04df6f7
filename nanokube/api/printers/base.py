"""What every printer shares: columns, ages, and the Go formatting kubectl users see.

A cell is whatever upstream's printer puts there after Go has formatted it: ages come from
`duration.HumanDuration`, label maps and selectors from `labels`, quantities in their
canonical form, and so on. The helpers here reproduce those formats so that each printer
module can stay a plain list of fields.
"""

from __future__ import annotations

import datetime
import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from .. import quantity as _quantity

Obj = dict[str, Any]
Cells = list[Any]
CellFn = Callable[[Obj, datetime.datetime], Cells]
ConditionFn = Callable[[Obj], list[Obj]]


@dataclass(frozen=True)
class Column:
    """One column definition of a Table (`priority` 1 columns show only with `-o wide`)."""

    name: str
    type: str = "string"
    priority: int = 0
    format: str = ""
    # literal text, or "@io.k8s.<definition>.<field>": that field's description in the schema
    doc: str = ""

    def as_dict(self) -> Obj:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": describe(self.doc), "priority": self.priority}


@dataclass(frozen=True)
class Printer:
    """The columns of one kind and the function that fills a row for one object."""

    columns: tuple[Column, ...]
    cells: CellFn
    conditions: ConditionFn | None = None


# -- column helpers ---------------------------------------------------------------------------

META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
NAME = Column("Name", format="name", doc=f"@{META}.name")
AGE = Column("Age", doc=f"@{META}.creationTimestamp")


def col(name: str, type: str = "string", doc: str = "", priority: int = 0) -> Column:
    return Column(name, type, priority, "", doc)


def wide(name: str, type: str = "string", doc: str = "") -> Column:
    return Column(name, type, 1, "", doc)


def ref(definition: str, field: str) -> str:
    """A doc pointer to `field` of a schema definition named by its short form (`core.v1.Pod`)."""
    return f"@io.k8s.api.{definition}.{field}"


CONTAINERS = wide("Containers", doc="The names of the containers in the pod template.")
IMAGES = wide("Images", doc="The images the pod template's containers run.")


@functools.cache
def describe(doc: str) -> str:
    """Column text: literal, or the description the API schema gives the named field."""
    if not doc.startswith("@io.k8s."):
        return doc
    definition, _, field = doc[1:].rpartition(".")
    try:
        from .. import schema

        node = schema.load().definitions.get(definition) or {}
    except (OSError, RuntimeError, ValueError):
        return field
    prop = (node.get("properties") or {}).get(field) or {}
    text = prop.get("description")
    return text if isinstance(text, str) else field


# -- reading objects --------------------------------------------------------------------------


def g(obj: Any, *path: str) -> Any:
    """The value at `path`, or None where any step is missing."""
    for p in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(p)
    return obj


def d(obj: Any, *path: str) -> Mapping[str, Any]:
    v = g(obj, *path)
    return v if isinstance(v, Mapping) else {}


def lst(obj: Any, *path: str) -> list[Any]:
    v = g(obj, *path)
    return v if isinstance(v, list) else []


def s(obj: Any, *path: str) -> str:
    v = g(obj, *path)
    return v if isinstance(v, str) else ""


def n(obj: Any, *path: str, default: int = 0) -> int:
    """An integer field as Go holds it (absent is the zero value, or the API default)."""
    v = g(obj, *path)
    if isinstance(v, bool) or v is None:
        return default
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return default


def name_of(obj: Obj) -> str:
    return s(obj, "metadata", "name")


# -- time -------------------------------------------------------------------------------------


def parse_time(ts: Any) -> datetime.datetime | None:
    """A metav1.Time / MicroTime; None for missing, unparsable and Go's zero time."""
    if not isinstance(ts, str) or not ts:
        return None
    try:
        t = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.UTC)
    if t.year == 1 and t.month == 1 and t.day == 1 and t.hour == 0 and t.minute == 0 and t.second == 0 \
            and t.microsecond == 0 and t.utcoffset() == datetime.timedelta(0):
        return None
    return t


def _aware(now: datetime.datetime) -> datetime.datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=datetime.UTC)


def human_duration(seconds: float) -> str:
    """A duration as upstream's `duration.HumanDuration` words it: about three significant
    figures (`5s`, `119s`, `3m2s`, `45m`, `5h3m`, `20h`, `2d3h`, `30d`, `2y45d`, `9y`).

    A clock up to a second behind counts as now ("0s"); further behind is "<invalid>".
    """
    whole = int(seconds)  # truncates toward zero, as Go's conversion does
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 120:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rem = whole % 60
        return f"{minutes}m" if rem == 0 else f"{minutes}m{rem}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        rem = minutes % 60
        return f"{hours}h" if rem == 0 else f"{hours}h{rem}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rem = hours % 24
        return f"{hours // 24}d" if rem == 0 else f"{hours // 24}d{rem}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def between(start: datetime.datetime, end: datetime.datetime) -> str:
    """The human duration from `start` to `end` (naive times count as UTC)."""
    return human_duration((_aware(end) - _aware(start)).total_seconds())


def since(ts: Any, now: datetime.datetime) -> str:
    """Time elapsed since a timestamp (`<unknown>` when there is none)."""
    t = parse_time(ts)
    if t is None:
        return "<unknown>"
    return between(t, now)


def age(obj: Obj, now: datetime.datetime) -> str:
    return since(g(obj, "metadata", "creationTimestamp"), now)


def rfc3339(ts: Any) -> str:
    """A timestamp re-printed as Go prints a metav1.Time in UTC (zero time when missing)."""
    t = parse_time(ts)
    if t is None:
        return "0001-01-01T00:00:00Z"
    return t.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- labels, selectors, containers ------------------------------------------------------------


def format_labels(labels: Any) -> str:
    """`labels.FormatLabels`: sorted `k=v` pairs, `<none>` when empty."""
    if not isinstance(labels, Mapping) or not labels:
        return "<none>"
    return ",".join(f"{k}={_label_text(labels[k])}" for k in sorted(labels))


def _label_text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if v is True or v is False:
        return "true" if v else "false"
    return "" if v is None else str(v)


def selector_string(sel: Any, *, invalid: str) -> str:
    """A metav1.LabelSelector as upstream's selector prints it; `invalid` when it is not one."""
    from .. import errors
    from ..selectors import label_selector_from_dict

    if sel is not None and not isinstance(sel, Mapping):
        return invalid
    try:
        return str(label_selector_from_dict(sel))
    except (errors.ApiError, ValueError, TypeError, AttributeError):
        return invalid


def format_selector(sel: Any) -> str:
    """`metav1.FormatLabelSelector`: `<none>` for a selector that prints empty, `<error>` for a bad one."""
    text = selector_string(sel, invalid="<error>")
    return text or "<none>"


def containers(spec: Any) -> tuple[str, str]:
    """The names and images of a pod spec's containers, comma separated."""
    cs = [c for c in lst(spec, "containers") if isinstance(c, Mapping)]
    return ",".join(s(c, "name") for c in cs), ",".join(s(c, "image") for c in cs)


def list_with_more(items: Sequence[str], total: int, limit: int = 3, empty: str = "<unset>") -> str:
    """Up to `limit` items, then `+ N more...` for the rest of `total`."""
    shown = ",".join(items[:limit])
    if total > limit:
        return f"{shown} + {total - limit} more..."
    return shown or empty


def bool_word(v: Any) -> str:
    """`printBoolPtr`: True/False, `<unset>` when the field is absent."""
    if v is None:
        return "<unset>"
    return "True" if v else "False"


def int_or_string(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, str)):
        return str(v)
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return "" if v is None else str(v)


_GO_SPACE = " \t\n\v\f\r\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009" \
    "\u200a\u2028\u2029\u202f\u205f\u3000"


def trim_space(text: Any) -> str:
    """Go's `strings.TrimSpace` (its idea of white space is narrower than Python's)."""
    return text.strip(_GO_SPACE) if isinstance(text, str) else ""


def join_host_port(host: str, port: Any) -> str:
    """`net.JoinHostPort`: IPv6 hosts in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def sorted_unique(values: Iterable[str]) -> list[str]:
    return sorted({v for v in values if v})


# -- quantities -------------------------------------------------------------------------------

_DECIMAL_SUFFIX = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}
_BINARY_SUFFIX = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_NANO = 10**9


def quantity_string(q: Any) -> str:
    """A resource.Quantity as upstream prints it: canonical, so `1024Mi` shows as `1Gi`,
    `0.5` as `500m` and `1e3` as `1e3`; an absent quantity is `0`."""
    if q is None:
        return "0"
    if isinstance(q, bool):
        return str(q)
    try:
        value = _quantity.parse(q)
    except _quantity.QuantityError:
        return str(q)
    fmt = "DecimalSI"
    if isinstance(q, str):
        m = _quantity._RE.match(q.strip())
        suffix = m.group(2) if m else ""
        if suffix in ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"):
            fmt = "BinarySI"
        elif suffix[:1] in ("e", "E"):
            fmt = "DecimalExponent"
    # parsing keeps nine decimal places, rounding away from zero
    scaled = value * _NANO
    units = math.ceil(scaled) if value >= 0 else math.floor(scaled)
    value = Fraction(units, _NANO)
    if value == 0:
        return "0"
    if fmt == "BinarySI" and (abs(value) < 1024 or value.denominator != 1):
        fmt = "DecimalSI"
    if fmt == "BinarySI":
        mantissa, power = int(value), 0
        while power < len(_BINARY_SUFFIX) - 1 and mantissa % 1024 == 0:
            mantissa //= 1024
            power += 1
        return f"{mantissa}{_BINARY_SUFFIX[power]}"
    mantissa, exponent = units, -9
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    extra = exponent % 3
    mantissa *= 10**extra
    exponent -= extra
    if fmt == "DecimalSI" and exponent in _DECIMAL_SUFFIX:
        return f"{mantissa}{_DECIMAL_SUFFIX[exponent]}"
    return f"{mantissa}" if exponent == 0 else f"{mantissa}e{exponent}"


# -- Go's printing of decoded JSON values -----------------------------------------------------


def go_print(value: Any) -> str:
    """`fmt.Fprint` of a scalar decoded from JSON (what JSONPath text output shows)."""
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    return str(value)


def go_json(value: Any) -> str:
    """Compact JSON as Go's encoder writes a decoded value: sorted keys, HTML characters escaped."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, str):
        return _go_json_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_json_float(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_go_json_string(str(k))}:{go_json(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    return _go_json_string(str(value))


def _go_json_string(text: str) -> str:
    out = ['"']
    for ch in text:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or ch in "<>&" or o in (0x2028, 0x2029):
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _digits(f: float) -> tuple[str, str, int]:
    """(sign, shortest significant digits, decimal exponent of the first digit)."""
    sign, digits, exponent = Decimal(repr(f)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    return ("-" if sign else ""), text, len(text) + exponent - 1


def _plain(neg: str, text: str, exp: int) -> str:
    point = exp + 1
    if point <= 0:
        return f"{neg}0.{'0' * -point}{text}"
    if point >= len(text):
        return f"{neg}{text}{'0' * (point - len(text))}"
    return f"{neg}{text[:point]}.{text[point:]}"


def _go_float(f: float) -> str:
    """`%v` of a float64: shortest digits, exponent form below 1e-4 or from 1e6."""
    if f != f:
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "0"
    neg, text, exp = _digits(f)
    if exp < -4 or exp >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{neg}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return _plain(neg, text, exp)


def _go_json_float(f: float) -> str:
    """encoding/json's float64: plain digits unless tiny (<1e-6) or huge (>=1e21)."""
    if f == 0 or not math.isfinite(f):
        return "0"
    neg, text, exp = _digits(f)
    if abs(f) < 1e-6 or abs(f) >= 1e21:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{neg}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp)}"
    return _plain(neg, text, exp)
