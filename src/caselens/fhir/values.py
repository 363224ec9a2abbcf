"""One resource's value for an input: read by FHIRPath, its unit checked and converted to the
schema's unit, and derived (age, length of a period) where the mapping says so.

A :class:`Reading` is either a value with how the record wrote it, or a named problem
(a unit not allowed, a value that cannot be used); never a guess.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from caselens.fhir._quoting import clip
from caselens.fhir.matching import codings, day_of, evaluate
from caselens.model.fhir_mapping import FhirMapping

#: The UCUM code system: only a Quantity in it has a unit code CaseLens converts.
UCUM_SYSTEM = "http://unitsofmeasure.org"
#: Significant digits kept after a unit conversion (drops float noise such as 200.99999999).
CONVERTED_DIGITS = 10

ReadingProblem = Literal["unit_not_allowed", "invalid_value", "unknown_code"]


@dataclass(frozen=True)
class Reading:
    """A value read from one resource (in the schema's unit), or why it cannot be used."""

    value: float | str | None
    original: str
    problem: ReadingProblem | None = None
    why: str = ""
    converted: bool = False


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _shown_number(number: float) -> str:
    return f"{number:g}"


def _ucum_code(quantity: dict[str, Any]) -> str | None:
    """The Quantity's UCUM unit: its code (the unit text only when the system is UCUM)."""
    system = quantity.get("system")
    code = quantity.get("code")
    if system not in (None, UCUM_SYSTEM):
        return None
    if isinstance(code, str) and code:
        return code
    unit = quantity.get("unit")
    if system == UCUM_SYSTEM and isinstance(unit, str) and unit:
        return unit
    return None


def _convert(number: float, from_unit: str, mapping: FhirMapping) -> float:
    """The number in the schema's unit (raises the converter's error when it cannot)."""
    target = mapping.unit
    if target is None or from_unit == target:
        return number
    from caselens.model.ucum_units import convert_quantity

    converted = convert_quantity(
        number, from_unit, target, molar_mass_g_per_mol=mapping.molar_mass_g_per_mol
    )
    return float(f"{converted:.{CONVERTED_DIGITS}g}")


def _from_quantity(quantity: dict[str, Any], mapping: FhirMapping) -> Reading:
    number = _number(quantity.get("value"))
    unit_text = quantity.get("unit") if isinstance(quantity.get("unit"), str) else None
    ucum = _ucum_code(quantity)
    written_unit = ucum or unit_text or ""
    original = f"{_shown_number(number)} {clip(written_unit)}".strip() if number is not None else ""
    if number is None:
        return Reading(None, original, "invalid_value", "the Quantity has no number")
    allowed = mapping.units or ((mapping.unit,) if mapping.unit else ())
    if not allowed:
        return Reading(number, original)
    if ucum is None:
        given = f"'{clip(unit_text)}' as text only" if unit_text else "no unit"
        return Reading(
            None,
            original,
            "unit_not_allowed",
            f"the record gives {given}, not a UCUM unit code; allowed: {', '.join(allowed)}",
        )
    if ucum not in allowed:
        return Reading(
            None,
            original,
            "unit_not_allowed",
            f"the unit '{clip(ucum)}' is not allowed; allowed: {', '.join(allowed)}",
        )
    try:
        converted = _convert(number, ucum, mapping)
    except Exception as exc:  # the converter's refusal (UnitError) names the units
        return Reading(
            None, original, "unit_not_allowed", f"cannot convert '{clip(ucum)}': {clip(str(exc))}"
        )
    return Reading(converted, original, converted=ucum != mapping.unit)


def _age_years(birth: Any, case_date: datetime.date) -> Reading:
    original = clip(birth) if isinstance(birth, str) else ""
    if not isinstance(birth, str) or len(birth) < 10 or day_of(birth) is None:
        return Reading(
            None,
            original,
            "invalid_value",
            f"the birth date '{original}' is not a full date, so age in whole years is unknown",
        )
    born = day_of(birth)
    assert born is not None
    if born > case_date:
        return Reading(
            None,
            original,
            "invalid_value",
            f"the birth date {original} is after the case date {case_date.isoformat()}",
        )
    years = case_date.year - born.year - ((case_date.month, case_date.day) < (born.month, born.day))
    return Reading(float(years), f"born {original}")


def _period_days(period: Any) -> Reading:
    if not isinstance(period, dict):
        return Reading(None, clip(period), "invalid_value", "the value is not a Period")
    start, end = day_of(period.get("start")), day_of(period.get("end"))
    original = f"{clip(period.get('start', '?'))} to {clip(period.get('end', '?'))}"
    if start is None or end is None:
        return Reading(None, original, "invalid_value", "the period has no start or no end date")
    if end < start:
        return Reading(None, original, "invalid_value", "the period ends before it starts")
    return Reading(float((end - start).days), original)


def reading_of(item: Any, mapping: FhirMapping, case_date: datetime.date) -> Reading:
    """One FHIRPath result as a reading in the schema's terms."""
    if mapping.derive == "age_years":
        return _age_years(item, case_date)
    if mapping.derive == "period_days":
        return _period_days(item)
    if isinstance(item, dict) and "value" in item and "coding" not in item:
        return _from_quantity(item, mapping)
    if isinstance(item, dict):
        found = [code for _, code in codings(item)]
        if not found:
            return Reading(None, "", "invalid_value", "the value is neither a code nor a number")
        known = [code for code in found if mapping.value_map and code in mapping.value_map]
        return Reading((known or found)[0], clip((known or found)[0]))
    if isinstance(item, bool):
        return Reading("true" if item else "false", str(item).lower())
    number = _number(item)
    if number is not None:
        return Reading(number, _shown_number(number))
    if isinstance(item, str):
        return Reading(item, clip(item))
    return Reading(None, clip(item), "invalid_value", "the value is not a number, code or text")


def readings_of(
    data: dict[str, Any], mapping: FhirMapping, case_date: datetime.date
) -> list[Reading]:
    """Every reading the mapping's value path gives in one resource (often one, or none)."""
    assert mapping.value_path is not None
    return [reading_of(item, mapping, case_date) for item in evaluate(mapping.value_path, data)]


def mapped(value: float | str, mapping: FhirMapping) -> Reading | float | str:
    """The combined value through the mapping's value map or bands (a Reading on a problem)."""
    if mapping.value_map is not None:
        key = value if isinstance(value, str) else _shown_number(value)
        if key in mapping.value_map:
            return mapping.value_map[key]
        known = ", ".join(f"'{k}'" for k in list(mapping.value_map)[:12])
        return Reading(
            None,
            clip(key),
            "unknown_code",
            f"the record's code '{clip(key)}' is not one the mapping knows ({known})",
        )
    if mapping.bands is not None:
        number = _number(value)
        if number is None:
            return Reading(None, clip(value), "invalid_value", "expected a number for the bands")
        chosen = None
        for band in mapping.bands:
            low = band.lower
            if low is None or number > low or (band.lower_inclusive and number == low):
                chosen = band.value
        if chosen is None:
            return Reading(
                None,
                _shown_number(number),
                "invalid_value",
                f"{_shown_number(number)} is below the lowest band",
            )
        return chosen
    return value
