"""``bundle check`` for a feature schema's FHIR mappings: each problem named per feature.

The structure of a mapping is checked when it is read (pydantic, :mod:`.fhir_mapping`). Here
each mapping is checked against the tools and the schema: every FHIRPath expression parses
(compiled only, never evaluated), every allowed unit is UCUM and converts to the mapping's
``unit`` (with the molar mass when needed), that ``unit`` means the schema's unit, every value
the mapping can produce (``value_map``, ``bands``, ``when_absent``) is a value the schema
accepts, and ``combine`` and ``derive`` fit the input's kind.

A *problem* makes ``bundle check`` refuse the bundle: the intake could not read the input as
mapped, or would produce a value the model does not take. A *warning* is printed and the
bundle passes: an unknown code system (a local code may be right), a schema unit whose
meaning CaseLens cannot confirm, an input entered by hand without a reason.

Whether a converted number lands within the feature's hard limits cannot be checked here:
the mapping states no typical value. Only convertibility is checked.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from caselens.errors import UnitError
from caselens.model.features import FeatureSchema, FeatureSpec
from caselens.model.fhir_mapping import KNOWN_CODE_SYSTEMS, FhirMapping
from caselens.model.ucum_units import convert_quantity, is_ucum

#: Longest FHIRPath expression read (the samples' longest is under 120 characters); the
#: parser is recursive, so a bound keeps a hostile expression from exhausting the stack.
MAX_FHIRPATH_CHARS = 500
#: Longest parser message quoted in a refusal (antlr lists every token it expected).
MAX_PARSER_MESSAGE = 80
#: Longest expression quoted in a refusal.
MAX_QUOTED_EXPRESSION = 80
#: Relative difference under which the mapping's unit and the schema's are the same unit
#: (a factor of exactly 1 after float rounding).
SAME_UNIT_TOLERANCE = 1e-9

#: Schema units written for people, with the UCUM code each means. A schema unit that is
#: itself UCUM ('mg/dL', '%') needs no entry. Meanings only: conversions are ucumvert's.
SCHEMA_UNIT_UCUM: dict[str, str] = {
    "mm Hg": "mm[Hg]",
    "mmHg": "mm[Hg]",
    "beats/min": "/min",
    "beats per minute": "/min",
    "bpm": "/min",
    "breaths/min": "/min",
    "years": "a",
    "year": "a",
    "months": "mo",
    "days": "d",
    "day": "d",
    "hours": "h",
    "kg/m²": "kg/m2",
    "°C": "Cel",
    "°F": "[degF]",
}
#: What each derived value is measured in (age in whole years, a stay in whole days).
DERIVED_UNIT: dict[str, str] = {"age_years": "a", "period_days": "d"}
#: The FHIRPath fields of a mapping, in the order they are reported.
PATH_FIELDS = ("code_path", "value_path", "date_path")


@dataclass(frozen=True)
class MappingCheck:
    """What ``bundle check`` says about a schema's FHIR mappings."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    read_from_record: list[str] = field(default_factory=list)
    entered_by_hand: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: how many inputs the record fills, how many are entered by hand."""
        total = len(self.read_from_record) + len(self.entered_by_hand) + len(self.unmapped)
        if not self.read_from_record and not self.entered_by_hand:
            return f"FHIR mapping: none (all {total} inputs are entered by hand)."
        parts = [f"{len(self.read_from_record)} of {total} inputs read from a FHIR record"]
        if self.entered_by_hand:
            parts.append(f"{len(self.entered_by_hand)} marked entered by hand")
        if self.unmapped:
            parts.append(f"{len(self.unmapped)} without a mapping (entered by hand)")
        return "FHIR mapping: " + ", ".join(parts) + "."


def fhir_mapping_problems(schema: FeatureSchema) -> list[str]:
    """Every problem that makes a schema's FHIR mappings unusable, one sentence each.

    Each names the feature, the mapping field, what is wrong and what is expected. Empty
    when every mapping can be read as written (or the schema has none).
    """
    return check_fhir_mappings(schema).problems


def fhir_mapping_warnings(schema: FeatureSchema) -> list[str]:
    """What a person should look at in the mappings, though the bundle stays usable."""
    return check_fhir_mappings(schema).warnings


def check_fhir_mappings(schema: FeatureSchema) -> MappingCheck:
    """Problems, warnings and the count of mapped inputs of a schema's FHIR mappings."""
    result = MappingCheck()
    for feature in schema:
        mapping = feature.fhir
        if mapping is None:
            result.unmapped.append(feature.name)
        elif mapping.entered_by_hand:
            result.entered_by_hand.append(feature.name)
            if not mapping.by_hand_reason.strip():
                result.warnings.append(
                    f"Feature '{feature.name}', field 'fhir.by_hand_reason': it is entered by "
                    "hand but no reason is given; expected a sentence saying why the record "
                    "cannot give it."
                )
        else:
            result.read_from_record.append(feature.name)
            _check_feature(feature, mapping, result)
    return result


def _check_feature(feature: FeatureSpec, mapping: FhirMapping, result: MappingCheck) -> None:
    def problem(field_name: str, text: str) -> None:
        result.problems.append(f"Feature '{feature.name}', field 'fhir.{field_name}': {text}")

    def warning(field_name: str, text: str) -> None:
        result.warnings.append(f"Feature '{feature.name}', field 'fhir.{field_name}': {text}")

    for field_name in PATH_FIELDS:
        expression = getattr(mapping, field_name)
        if expression is not None:
            error = fhirpath_error(expression)
            if error:
                problem(
                    field_name,
                    f"{error}; expected a FHIRPath expression such as "
                    "'valueQuantity' or \"component.where(code.coding.code='8480-6')"
                    '.valueQuantity".',
                )
    for index, code in enumerate(mapping.codes):
        if code.system not in KNOWN_CODE_SYSTEMS:
            warning(
                f"codes[{index}].system",
                f"the code system {code.system!r} is not one CaseLens knows; expected one of "
                f"{', '.join(sorted(KNOWN_CODE_SYSTEMS))} (a local system may still be "
                "right: check its URI).",
            )
    _check_units(feature, mapping, problem, warning)
    _check_values(feature, mapping, problem)
    _check_combine_and_derive(feature, mapping, problem)


def _check_units(feature: FeatureSpec, mapping: FhirMapping, problem, warning) -> None:
    target = mapping.unit
    if target is not None and not is_ucum(target):
        problem(
            "unit",
            f"{target!r} is not a UCUM unit; expected a UCUM code such as "
            "'mm[Hg]', 'mg/dL' or '%'.",
        )
        target = None
    for index, unit in enumerate(mapping.units):
        if not is_ucum(unit):
            problem(
                f"units[{index}]",
                f"{unit!r} is not a UCUM unit; expected a UCUM code "
                "such as 'mm[Hg]', 'mg/dL' or 'mmol/L' (case matters).",
            )
            continue
        if target is None:
            continue
        try:
            convert_quantity(1.0, unit, target, molar_mass_g_per_mol=mapping.molar_mass_g_per_mol)
        except UnitError as exc:
            problem(
                f"units[{index}]",
                f"{exc} Expected every allowed unit to convert to the mapping's unit {target!r}.",
            )
    if feature.kind == "category":
        return  # a category's value comes through value_map or bands, in no unit
    reads_a_number = mapping.combine not in ("count", "any") and mapping.bands is None
    if mapping.derive is not None:
        _check_derived_unit(feature, mapping.derive, problem, warning)
        return
    if not reads_a_number:
        return
    schema_ucum = schema_unit_ucum(feature.unit)
    if feature.unit and target is None and mapping.unit is None:
        problem(
            "unit",
            f"the schema's unit is {feature.unit!r} but the mapping names no "
            "unit to convert the record's values to; expected 'unit' (and the allowed "
            "'units').",
        )
        return
    if target is None:
        return
    if not feature.unit:
        warning(
            "unit",
            f"the mapping converts to {target!r} but the schema states no unit; "
            "expected the schema's 'unit' so readers see it.",
        )
    elif schema_ucum is None:
        warning(
            "unit",
            f"CaseLens cannot confirm that the schema's unit {feature.unit!r} "
            f"means the mapping's {target!r}; expected a UCUM code or a known spelling "
            "(e.g. 'mm Hg').",
        )
    elif not _same_unit(target, schema_ucum):
        problem(
            "unit",
            f"the mapping's unit {target!r} is not the schema's unit "
            f"{feature.unit!r} (UCUM {schema_ucum!r}); expected {schema_ucum!r}, so a "
            "converted value is in the unit the model was trained on.",
        )


def _check_derived_unit(feature: FeatureSpec, derive: str, problem, warning) -> None:
    if feature.kind == "category" or not feature.unit:
        return
    schema_ucum = schema_unit_ucum(feature.unit)
    expected = DERIVED_UNIT[derive]
    if schema_ucum is None:
        warning(
            "derive",
            f"CaseLens cannot confirm that the schema's unit {feature.unit!r} "
            f"is the unit of '{derive}' ({expected!r}).",
        )
    elif not _same_unit(expected, schema_ucum):
        problem(
            "derive",
            f"'{derive}' gives a value in {expected!r} but the schema's unit is "
            f"{feature.unit!r}; expected a schema unit of {expected!r}.",
        )


def _same_unit(unit: str, other: str) -> bool:
    try:
        factor = convert_quantity(1.0, unit, other)
    except UnitError:
        return False
    return math.isclose(factor, 1.0, rel_tol=SAME_UNIT_TOLERANCE)


def schema_unit_ucum(unit: str | None) -> str | None:
    """The UCUM code a schema's unit means ('mm Hg' → 'mm[Hg]'), or None if unknown."""
    if not unit:
        return None
    if unit in SCHEMA_UNIT_UCUM:
        return SCHEMA_UNIT_UCUM[unit]
    return unit if is_ucum(unit) else None


def _check_values(feature: FeatureSpec, mapping: FhirMapping, problem) -> None:
    produced: list[tuple[str, Any]] = []
    if mapping.value_map is not None:
        produced += [(f"value_map[{key!r}]", value) for key, value in mapping.value_map.items()]
    if mapping.bands is not None:
        produced += [(f"bands[{i}].value", band.value) for i, band in enumerate(mapping.bands)]
        for index, band in enumerate(mapping.bands):
            if band.lower is not None and not math.isfinite(band.lower):
                problem(
                    f"bands[{index}].lower",
                    f"{band.lower!r} is not a finite number; "
                    "expected the band's lower bound in the mapping's unit.",
                )
    if mapping.when_absent is not None:
        produced.append(("when_absent", mapping.when_absent))
    for field_name, value in produced:
        error = schema_value_error(feature, value)
        if error:
            problem(field_name, error)


def schema_value_error(feature: FeatureSpec, value: object) -> str | None:
    """Why ``value`` is not a value the schema accepts for ``feature`` (None if it is)."""
    if feature.kind == "category":
        categories = list(feature.categories or ())
        if not isinstance(value, str) or value not in categories:
            return (
                f"{value!r} is not one of the schema's categories; expected one of "
                f"{', '.join(repr(c) for c in categories)}."
            )
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return f"{value!r} is not a number; expected a number (the input is numeric)."
    if feature.kind == "integer" and value != int(value):
        return f"{value!r} is not a whole number; expected a whole number."
    low, high = feature.hard_min, feature.hard_max
    if (low is not None and value < low) or (high is not None and value > high):
        return (
            f"{value!r} is outside the schema's hard limits; expected a number from "
            f"{_limit(low)} to {_limit(high)}."
        )
    return None


def _limit(value: float | None) -> str:
    return "no limit" if value is None else f"{value:g}"


def _check_combine_and_derive(feature: FeatureSpec, mapping: FhirMapping, problem) -> None:
    banded_category = feature.kind == "category" and mapping.bands is not None
    if mapping.combine in ("count", "any") and feature.kind != "integer" and not banded_category:
        problem(
            "combine",
            f"'{mapping.combine}' gives a whole number but the input is a "
            f"{feature.kind}; expected 'count' or 'any' only for an integer input (or a "
            "category with 'bands' that name the category for each number).",
        )
    if mapping.combine in ("max", "min") and feature.kind == "category" and mapping.bands is None:
        problem(
            "combine",
            f"'{mapping.combine}' compares numbers but the input is a "
            "category without 'bands'; expected 'latest' or 'earliest', or bands.",
        )
    if mapping.derive is not None and feature.kind == "category" and mapping.bands is None:
        problem(
            "derive",
            f"'{mapping.derive}' gives a number but the input is a category "
            "without 'bands'; expected a numeric input, or bands that name the category "
            "(e.g. age 60 → '60-69').",
        )


class _SyntaxProblem(Exception):
    """A FHIRPath expression does not parse (message: where and why)."""


def fhirpath_error(expression: str) -> str | None:
    """Why a FHIRPath expression does not compile, or None if it does.

    ``fhirpathpy.compile`` recovers from syntax errors silently ('a b c' compiles to 'a'), so
    the expression is parsed strictly here with fhirpathpy's own grammar, every function named
    must be one fhirpathpy implements, and then it is compiled. Never evaluated.
    """
    if len(expression) > MAX_FHIRPATH_CHARS:
        return (
            f"the FHIRPath expression is {len(expression)} characters long; the limit is "
            f"{MAX_FHIRPATH_CHARS}"
        )
    if not expression.strip():
        return "the FHIRPath expression is empty"
    quoted = repr(expression)
    if len(quoted) > MAX_QUOTED_EXPRESSION:
        quoted = quoted[:MAX_QUOTED_EXPRESSION] + "…'"
    try:
        tree = _parse_strictly(expression)
        unknown = _unknown_functions(tree)
        if unknown:
            return (
                f"{quoted} calls {', '.join(sorted(unknown))}, which FHIRPath (as "
                "fhirpathpy implements it) does not have"
            )
        import fhirpathpy

        fhirpathpy.compile(expression)
    except _SyntaxProblem as exc:
        return f"{quoted} is not valid FHIRPath ({exc})"
    except RecursionError:
        return f"{quoted} is nested too deeply to read"
    except Exception as exc:  # A third-party parser on untrusted text: any failure is a refusal.
        return f"{quoted} is not valid FHIRPath ({type(exc).__name__})"
    return None


def _parse_strictly(expression: str) -> dict:
    from antlr4 import CommonTokenStream, InputStream, ParseTreeWalker, Token
    from antlr4.error.ErrorListener import ErrorListener
    from fhirpathpy.parser.ASTPathListener import ASTPathListener
    from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
    from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

    class Raising(ErrorListener):
        def syntaxError(self, recognizer, offendingSymbol, line, column, msg, e):
            shown = msg if len(msg) <= MAX_PARSER_MESSAGE else msg[:MAX_PARSER_MESSAGE] + "…"
            raise _SyntaxProblem(f"at column {column + 1}: {shown}")

    lexer = FHIRPathLexer(InputStream(expression))
    lexer.removeErrorListeners()
    lexer.addErrorListener(Raising())
    tokens = CommonTokenStream(lexer)
    parser = FHIRPathParser(tokens)
    parser.removeErrorListeners()
    parser.addErrorListener(Raising())
    tree = parser.expression()
    following = tokens.LT(1)
    if following is not None and following.type != Token.EOF:
        raise _SyntaxProblem(f"unexpected {following.text!r} at column {following.column + 1}")
    listener = ASTPathListener()
    ParseTreeWalker().walk(listener, tree)
    return listener.parentStack[0]


def _unknown_functions(tree: dict) -> set[str]:
    """Names called as functions in a parsed expression that fhirpathpy does not implement."""
    from fhirpathpy.engine.invocations import invocation_registry

    unknown: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.get("type") == "Functn":
            name_node = (node.get("children") or [{}])[0]
            name = name_node.get("text", "")
            if name not in invocation_registry:
                unknown.add(name)
        stack.extend(node.get("children") or [])
    return unknown
