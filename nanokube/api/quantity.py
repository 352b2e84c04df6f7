"""Resource quantities (`100m`, `1.5Gi`, `2e3`): parsing and comparison, as upstream."""

from __future__ import annotations

import functools
import re
from fractions import Fraction

_RE = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
PATTERN = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": Fraction(1),
            "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
            "P": Fraction(10**15), "E": Fraction(10**18)}


class QuantityError(ValueError):
    pass


def parse(text: str | int | float) -> Fraction:
    """The exact value of a quantity; raises QuantityError for malformed input."""
    if isinstance(text, bool):
        raise QuantityError(str(text))
    if isinstance(text, (int, float)):
        return Fraction(text)
    return _parse_text(text)


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> Fraction:
    """Parsing is exact but slow, and a cluster repeats the same few quantities on every pod
    (Fractions are immutable, so the cached value is safe to share)."""
    s = text.strip()
    m = _RE.match(s)
    if not m or s.count(".") > 1:
        raise QuantityError(s)
    number, suffix = m.group(1), m.group(2)
    try:
        value = Fraction(number)
    except ValueError:
        raise QuantityError(s) from None
    if suffix in _BINARY:
        return value * _BINARY[suffix]
    if suffix in _DECIMAL:
        return value * _DECIMAL[suffix]
    if suffix[:1] in ("e", "E"):
        try:
            return value * Fraction(10) ** int(suffix[1:])
        except ValueError:
            raise QuantityError(s) from None
    raise QuantityError(s)


def is_valid(text: object) -> bool:
    try:
        parse(text)  # type: ignore[arg-type]
    except QuantityError:
        return False
    return True


_DECIMAL_SUFFIXES = (("E", 18), ("P", 15), ("T", 12), ("G", 9), ("M", 6), ("k", 3), ("", 0), ("m", -3),
                     ("u", -6), ("n", -9))
_BINARY_SUFFIXES = (("Ei", 60), ("Pi", 50), ("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10))


def is_binary(text: object) -> bool:
    """Whether a quantity is written with a binary suffix (Ki, Mi, ...), whose format sums
    and usages of it keep, as upstream's Quantity keeps its format."""
    return isinstance(text, str) and text.strip()[-2:] in _BINARY


def format(value: Fraction, binary: bool = False) -> str:
    """The canonical text of a quantity: the largest suffix that keeps it a whole number
    (`1500m` → `1500m`, `2000` → `2k`, `1.5Gi` → `1536Mi` in binary format); values too
    small for nano-units are rounded up, as upstream does."""
    if value == 0:
        return "0"
    if binary and value.denominator == 1 and abs(value) >= 1024:
        n = int(value)
        for suffix, power in _BINARY_SUFFIXES:
            if n % (1 << power) == 0:
                return f"{n >> power}{suffix}"
        return str(n)
    for suffix, exp in _DECIMAL_SUFFIXES:
        scaled = value / Fraction(10) ** exp
        if scaled.denominator == 1:
            return f"{scaled.numerator}{suffix}"
    nanos = -((-value * 10**9) // 1)  # ceiling
    return format(Fraction(nanos, 10**9))
