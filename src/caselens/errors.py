"""Domain errors. Each subclasses ``ValueError`` so callers can catch one family."""

from __future__ import annotations


class CaseLensError(ValueError):
    """Base class for every error CaseLens reports to a person."""


class BundleError(CaseLensError):
    """A model bundle was refused: the message says which part and why."""


class CardError(BundleError):
    """The model card is invalid: the message names the field."""


class CaseValidationError(CaseLensError):
    """A patient case has one or more problems, each tied to a field.

    Parameters
    ----------
    problems : list of FieldProblem
        Every problem found, in schema order. Nothing was applied.
    """

    def __init__(self, problems: list) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"- {p.message}" for p in self.problems)
        super().__init__(f"The case has {len(self.problems)} problem(s):\n{lines}")


class UnitError(CaseLensError):
    """A unit is not UCUM, or one unit cannot be converted to another: the message names both."""


class FhirRecordError(CaseLensError):
    """A FHIR record (a Bundle or a server's answer) was refused: the message says why."""
