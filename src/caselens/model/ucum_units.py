"""UCUM units read and converted with a real UCUM library (``ucumvert`` → ``pint``).

A FHIR Quantity carries its unit as a UCUM code (``mm[Hg]``, ``mg/dL``, ``mmol/L``); the
feature schema has one unit per input. :func:`convert_quantity` turns a value in one UCUM unit
into another and refuses, with a :class:`~caselens.errors.UnitError` naming both units, a
unit that is not UCUM or a pair that measures different things. Mass per volume ↔ substance
per volume (cholesterol mg/dL ↔ mmol/L) converts only with the substance's molar mass.

Building the registry takes most of a second, so it is built once (lazily, under a lock) and
parsed units are cached; a unit longer than :data:`MAX_UNIT_LENGTH` is refused unread.
"""

from __future__ import annotations

import math
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from caselens.errors import UnitError

#: Longest UCUM code read: real codes are a few characters ('mm[Hg]', '10*3/uL'); a bound
#: keeps the parser's time and the cache's memory small for hostile input.
MAX_UNIT_LENGTH = 64
#: How many distinct parsed units are kept (a mapping names a handful; records repeat them).
UNIT_CACHE_SIZE = 512

_REGISTRY_LOCK = threading.Lock()
_REGISTRY: tuple[Any, Any, Any] | None = None


def _registry() -> tuple[Any, Any, Any]:
    """The pint registry with UCUM's units, the UCUM parser and its pint transformer (built once).

    ucumvert's own ``PintUcumRegistry`` also loads UCUM's units into pint's application-wide
    registry; a private registry keeps CaseLens from changing what other code sees.
    """
    global _REGISTRY
    with _REGISTRY_LOCK:
        if _REGISTRY is None:
            import pint
            import ucumvert

            registry = pint.UnitRegistry()
            registry.load_definitions(Path(ucumvert.__file__).parent / "pint_ucum_defs.txt")
            transformer = ucumvert.UcumToPintTransformer(ureg=registry)
            _REGISTRY = (registry, ucumvert.get_ucum_parser(), transformer)
        return _REGISTRY


@lru_cache(maxsize=UNIT_CACHE_SIZE)
def _parse(unit: str) -> Any:
    """The pint quantity one UCUM code stands for (e.g. ``1 millimeter_Hg``)."""
    registry, parser, transformer = _registry()
    import ucumvert

    tree = ucumvert.parse_ucum(unit, parser)
    quantity = transformer.transform(tree)
    if not isinstance(quantity, registry.Quantity):
        # A bare number (UCUM '10*3' alone) comes back as a plain int or float.
        quantity = registry.Quantity(quantity, "")
    return quantity


def _quantity(unit: object, role: str, other: object) -> Any:
    """Parse ``unit``; any failure becomes a UnitError that names ``role`` and both units."""
    if not isinstance(unit, str):
        raise UnitError(f"The {role} unit must be a UCUM code (text), got {type(unit).__name__}.")
    shown = _shown(unit)
    if len(unit) > MAX_UNIT_LENGTH:
        raise UnitError(
            f"The {role} unit {shown} is longer than {MAX_UNIT_LENGTH} characters; "
            "a UCUM code is expected (e.g. 'mg/dL')."
        )
    import ucumvert

    try:
        return _parse(unit)
    except ucumvert.InvalidUcumError as exc:
        raise UnitError(
            f"The {role} unit {shown} is not a UCUM unit (converting to or from "
            f"{_shown(other)}); a UCUM code is expected, e.g. 'mm[Hg]', 'mg/dL', 'mmol/L'."
        ) from exc
    except Exception as exc:  # A third-party transformer on untrusted text
        # (lark's VisitError, pint's undefined or offset units): the unit cannot be used.
        raise UnitError(
            f"The {role} unit {shown} cannot be converted to or from {_shown(other)}: "
            "the units library cannot express it (e.g. a temperature inside a rate)."
        ) from exc


def _shown(unit: object) -> str:
    """A unit as quoted in a message: repr, cut short so a hostile one cannot flood it."""
    text = repr(unit)
    return text if len(text) <= MAX_UNIT_LENGTH + 2 else text[:MAX_UNIT_LENGTH] + "…'"


def is_ucum(unit: str) -> bool:
    """Whether ``unit`` is a UCUM code this library understands (case-sensitive, as UCUM is)."""
    try:
        _quantity(unit, "given", "")
    except UnitError:
        return False
    return True


def _kinds(quantity: Any) -> tuple[frozenset[str], frozenset[str]]:
    """What a unit's atoms measure, numerator and denominator apart (before they cancel).

    'mmol/mol' and '%' are both dimensionless to pint, but one is a substance ratio and the
    other a plain fraction: HbA1c in mmol/mol (IFCC) is not HbA1c in % (NGSP) times ten.
    """
    registry = quantity._REGISTRY
    above: set[str] = set()
    below: set[str] = set()
    for name, power in quantity.units._units.items():
        kind = str(registry.get_dimensionality(name))
        if kind == "dimensionless":
            continue
        (above if power > 0 else below).add(kind)
    return frozenset(above), frozenset(below)


def convert_quantity(
    value: float,
    from_unit: str,
    to_unit: str,
    *,
    molar_mass_g_per_mol: float | None = None,
) -> float:
    """``value`` in UCUM unit ``from_unit`` expressed in UCUM unit ``to_unit``.

    Parameters
    ----------
    value : float
        A finite number.
    from_unit, to_unit : str
        UCUM codes (case-sensitive): 'mm[Hg]', 'mg/dL', 'mmol/L', '%', '/min', 'a'.
    molar_mass_g_per_mol : float, optional
        Needed only between mass and substance amounts (mg/dL ↔ mmol/L); cholesterol 386.65,
        glucose 180.16.

    Raises
    ------
    UnitError
        A unit is not UCUM, the two measure different things, mass ↔ substance without a
        molar mass, or the value is not a finite number. The message names both units.
    """
    source = _quantity(from_unit, "original", to_unit)
    target = _quantity(to_unit, "target", from_unit)
    pair = f"{_shown(from_unit)} to {_shown(to_unit)}"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UnitError(f"Converting {pair}: the value must be a finite number, got {value!r}.")
    if molar_mass_g_per_mol is not None and not (
        isinstance(molar_mass_g_per_mol, int | float)
        and math.isfinite(molar_mass_g_per_mol)
        and molar_mass_g_per_mol > 0
    ):
        raise UnitError(
            f"Converting {pair}: the molar mass must be a positive number of g/mol, "
            f"got {molar_mass_g_per_mol!r}."
        )
    if source.dimensionless and target.dimensionless and _kinds(source) != _kinds(target):
        raise UnitError(
            f"Cannot convert {pair}: both are ratios but of different things "
            "(e.g. mmol/mol and % for HbA1c follow different standards, not a factor)."
        )
    return _convert(value, source, target, pair, molar_mass_g_per_mol)


def _convert(value: float, source: Any, target: Any, pair: str, molar_mass: float | None) -> float:
    """The conversion itself, with pint; every pint failure becomes a UnitError."""
    import pint

    registry = source._REGISTRY
    try:
        # A UCUM code may carry a factor ('10*3/uL' → 1000 / µL): scale by both magnitudes.
        start = registry.Quantity(value * source.magnitude, source.units)
        if start.dimensionality == target.dimensionality:
            end = start.to(target.units)
        elif _mass_substance_pair(start, target):
            if molar_mass is None:
                raise UnitError(
                    f"Cannot convert {pair} without the substance's molar mass "
                    "(mass and amount of substance; set molar_mass_g_per_mol)."
                )
            end = start.to(target.units, "chemistry", mw=registry.Quantity(molar_mass, "g/mol"))
        else:
            raise UnitError(
                f"Cannot convert {pair}: they measure different things "
                f"({start.dimensionality} and {target.dimensionality})."
            )
        result = float(end.magnitude) / float(target.magnitude)
    except UnitError:
        raise
    except (pint.errors.PintError, ArithmeticError, ValueError, TypeError) as exc:
        raise UnitError(f"Cannot convert {pair}: {type(exc).__name__}.") from exc
    if not math.isfinite(result):
        raise UnitError(f"Converting {pair} gives a number too large to hold ({value!r}).")
    return result


def _mass_substance_pair(start: Any, target: Any) -> bool:
    """Whether one side is a mass and the other an amount of substance, per the same volume."""
    swapped = {"[mass]": "[substance]", "[substance]": "[mass]"}
    source_dims = dict(start.dimensionality)
    target_dims = dict(target.dimensionality)
    for old, new in swapped.items():
        if source_dims.get(old) == 1:
            moved = {**source_dims}
            moved[new] = moved.pop(old)
            return moved == target_dims
    return False
