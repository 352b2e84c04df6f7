"""Resource quantities (`100m`, `1.5Gi`, `2e3`): parsing and comparison, as upstream."""

from __future__ import annotations

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
