"""Where each value of a case came from when it was read from the patient's FHIR record.

A case read from a record (:mod:`caselens.fhir`) carries, per input, what the intake found:
its status in plain words, the resources the value came from (type, id, version, date), the
value and unit as the record wrote them, and whether the clinician entered the value by hand
because the record could not give it. The whole goes into the report (``CaseSummary``), so
the recorded display and its replay show where every value came from.

Record text is untrusted: every string is cut to a bound here, and the app shows it as text,
never as Markdown or HTML.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: What the intake found for one input (the words are :data:`STATUS_WORDS`).
RecordStatus = Literal[
    "filled",
    "stated_absent",
    "entered_by_hand",
    "not_mapped",
    "no_value",
    "stale",
    "unit_not_allowed",
    "conflict",
    "unknown_code",
    "invalid_value",
]
#: The statuses whose value the record gave (filled, or the model's stated value for
#: "nothing in the window"); every other status is asked for by hand, never defaulted.
FROM_RECORD: frozenset[str] = frozenset({"filled", "stated_absent"})
#: A status in a clinician's words, for the "where it came from" table.
STATUS_WORDS: dict[str, str] = {
    "filled": "From the record",
    "stated_absent": "Not in the record: the model's stated value for none",
    "entered_by_hand": "Not held in the record",
    "not_mapped": "Not read from records by this model",
    "no_value": "No value in the record",
    "stale": "Only an old value in the record",
    "unit_not_allowed": "A unit that is not allowed",
    "conflict": "Conflicting values in the record",
    "unknown_code": "A code the mapping does not know",
    "invalid_value": "A value that cannot be used",
}
#: The columns of the "where the values came from" table (:meth:`RecordSources.table`).
TABLE_COLUMNS = ("Input", "Value used", "From the record?", "Where it came from", "Note")
#: The value column of an input the record could not give, before the clinician enters it.
TO_ENTER_BY_HAND = "to enter by hand"
#: Characters kept of a resource type, id, version, date or original value from a record:
#: real ones are far shorter (a FHIR id is at most 64), a hostile one cannot bloat the trail.
MAX_SOURCE_TEXT_CHARS = 200
#: Characters kept of one field's message.
MAX_MESSAGE_CHARS = 1000
#: Notes kept about what the record held that was not used (other patients' resources,
#: malformed entries): the reader names at most a few; a hostile record cannot add more.
MAX_NOTES = 20
#: Source resources kept per input: a count over a year's encounters may name dozens, and
#: the report keeps them all up to this bound (``sources_total`` says how many there were).
MAX_SOURCES_PER_FIELD = 100


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def cut(text: object, limit: int = MAX_SOURCE_TEXT_CHARS) -> str:
    """``text`` as a string of at most ``limit`` characters (an ellipsis marks a cut)."""
    value = str(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"


class SourceResourceRef(_Frozen):
    """One resource a value came from: ``Observation/abc`` version 2, dated 2026-11-02."""

    resource_type: str = Field(max_length=MAX_SOURCE_TEXT_CHARS)
    resource_id: str = Field(max_length=MAX_SOURCE_TEXT_CHARS)
    version: str | None = Field(default=None, max_length=MAX_SOURCE_TEXT_CHARS)
    date: str | None = Field(default=None, max_length=MAX_SOURCE_TEXT_CHARS)

    def reference(self) -> str:
        """``Type/id`` with ``/_history/version`` when the version is known."""
        text = f"{self.resource_type}/{self.resource_id}"
        return f"{text}/_history/{self.version}" if self.version else text

    def describe(self) -> str:
        """The reference and its day, e.g. ``Observation/abc (2026-11-02)`` (the time of day
        stays in :attr:`date`)."""
        return f"{self.reference()} ({self.date[:10]})" if self.date else self.reference()


class FieldSource(_Frozen):
    """What the record gave for one input, and the value the case used.

    Attributes
    ----------
    feature : str
        The input's name in the schema.
    status : RecordStatus
        What the intake found (:data:`STATUS_WORDS`).
    message : str
        The intake's own words for this input (the problem, or how the value was read).
    sources : tuple of SourceResourceRef
        The resources the value came from (at most :data:`MAX_SOURCES_PER_FIELD`).
    sources_total : int
        How many resources there were (more than ``len(sources)`` when cut).
    original : str or None
        The value and unit as the record wrote them ("198 mg/dL"), when there was one.
    value : float, str or None
        The value the case used (converted to the schema's unit; None = not recorded).
    by_hand : bool
        The clinician entered the value because the record could not give it.
    """

    feature: str = Field(max_length=MAX_SOURCE_TEXT_CHARS)
    status: RecordStatus
    message: str = Field(default="", max_length=MAX_MESSAGE_CHARS)
    sources: tuple[SourceResourceRef, ...] = Field(default=(), max_length=MAX_SOURCES_PER_FIELD)
    sources_total: int = Field(default=0, ge=0)
    original: str | None = Field(default=None, max_length=MAX_SOURCE_TEXT_CHARS)
    value: float | str | None = None
    by_hand: bool = False

    @property
    def from_record(self) -> bool:
        """Whether the record gave the value (never true for a value entered by hand)."""
        return self.status in FROM_RECORD and not self.by_hand

    def status_words(self) -> str:
        """The status in a clinician's words, with "entered by hand" when it was."""
        words = STATUS_WORDS[self.status]
        return f"{words}: entered by hand" if self.by_hand else words

    def where_from(self) -> str:
        """Where the value came from, in one line: the resources (with their days) and the
        record's own value and unit; for a value entered by hand, "Entered by hand" and what
        the record held instead, if anything (a stale value, a unit not allowed …)."""
        parts = [source.describe() for source in self.sources]
        if self.sources_total > len(self.sources):
            parts.append(f"and {self.sources_total - len(self.sources)} more")
        recorded = f"recorded as {self.original}" if self.original else ""
        found = " · ".join(p for p in ("; ".join(parts), recorded) if p)
        if self.by_hand and found:
            return f"Entered by hand · not used from the record: {found}"
        if self.by_hand:
            return "Entered by hand"
        return found or "—"


class RecordSources(_Frozen):
    """Where every value of a case read from a patient's FHIR record came from.

    Attributes
    ----------
    patient_id : str or None
        The record's patient id (the ``Patient`` resource's id).
    patient : SourceResourceRef or None
        The Patient resource read.
    case_date : str
        The date the case is assessed at (ISO 8601): windows and ages count back from it.
    fields : tuple of FieldSource
        One per input, in the schema's order.
    notes : tuple of str
        What the record held that was not used (another patient's resources, malformed
        entries), in the reader's words.
    """

    patient_id: str | None = Field(default=None, max_length=MAX_SOURCE_TEXT_CHARS)
    patient: SourceResourceRef | None = None
    case_date: str = Field(max_length=10)
    fields: tuple[FieldSource, ...]
    notes: tuple[str, ...] = Field(default=(), max_length=MAX_NOTES)

    def field(self, name: str) -> FieldSource | None:
        """The source of one input (None if the record said nothing about it)."""
        return next((f for f in self.fields if f.feature == name), None)

    def entered_by_hand(self) -> tuple[str, ...]:
        """The inputs the clinician entered by hand, in schema order."""
        return tuple(f.feature for f in self.fields if f.by_hand)

    @property
    def date(self) -> dt.date:
        """The case date as a date."""
        return dt.date.fromisoformat(self.case_date)

    def table(
        self, labels: Mapping[str, str], values_shown: Mapping[str, str]
    ) -> list[dict[str, str]]:
        """One row per input for the "where the values came from" table (:data:`TABLE_COLUMNS`).

        ``labels`` are the inputs' labels; ``values_shown`` the values as the report reads
        them ("145 mm Hg"), by name: an input without one (not entered yet) reads
        :data:`TO_ENTER_BY_HAND`. The note is the intake's words for every input but one
        filled from the record (whose words would repeat where it came from). Every cell is
        plain text, to be shown as text.
        """
        return [
            dict(
                zip(
                    TABLE_COLUMNS,
                    (
                        labels.get(f.feature, f.feature),
                        values_shown.get(f.feature, TO_ENTER_BY_HAND),
                        f.status_words(),
                        f.where_from(),
                        "" if f.status == "filled" else f.message,
                    ),
                    strict=True,
                )
            )
            for f in self.fields
        ]
