"""A case from the patient's FHIR record: read, checked per field, completed by hand.

Two steps, both for clinicians only. :meth:`RecordIntakeMixin.case_from_record` reads an
uploaded FHIR R4 Bundle (:meth:`RecordIntakeMixin.case_from_server`: the configured FHIR
server's record of a patient) with the model's mapping (:mod:`caselens.fhir`) and returns, per
input, what the record gave or the problem in plain words (:class:`RecordSources`); a value
the record gave that the case checks refuse (outside the possible range, say) becomes a
problem of its own. :meth:`RecordIntakeMixin.case_with_values_by_hand` then builds the case
from the record's values and the values the clinician typed for exactly the inputs the record
could not give, checks it like any case, and marks those values "entered by hand". Nothing
is defaulted. The report is then shown through ``show_report`` like any case, and carries the
sources into the trail.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from caselens.errors import CaseLensError, CaseValidationError
from caselens.explain.cases import (
    FROM_RECORD,
    MAX_SOURCES_PER_FIELD,
    Case,
    FieldProblem,
    FieldSource,
    RecordSources,
    SourceResourceRef,
    validate_inputs,
)
from caselens.explain.cases.record_sources import MAX_MESSAGE_CHARS, MAX_NOTES, cut
from caselens.fhir import (
    MAX_FHIR_BUNDLE_BYTES,
    RecordIntake,
    SourceResource,
    case_from_record,
    fetch_patient_record,
    read_fhir_bundle,
)
from caselens.fhir.server_fetch import FhirAuth
from caselens.model.bundle import ModelBundle
from caselens.model.features import FeatureSchema
from caselens.workflow._door_base import DoorBase
from caselens.workflow.errors import WorkflowError
from caselens.workflow.records import UserSession

#: Largest record file read at the door: the reader's own bound, said before it is parsed (the
#: reader also bounds entries, depth and text).
MAX_RECORD_BYTES = MAX_FHIR_BUNDLE_BYTES
#: A FHIR resource id (FHIR R4 ``id``: letters, digits, '-' and '.', 1–64 characters).
FHIR_ID_PATTERN = re.compile(r"[A-Za-z0-9\-.]{1,64}", re.ASCII)
#: The ``source`` of a case read from a record.
RECORD_SOURCE = "fhir"


class RecordIntakeMixin(DoorBase):
    """The door's record intake: a case from an uploaded FHIR Bundle or the configured FHIR
    server, the rest by hand."""

    #: The FHIR server records are read from (base URL, sign-in), or None.
    record_server: tuple[str, FhirAuth | None] | None = None

    def case_from_record(
        self,
        session: UserSession,
        model_id: str,
        data: bytes,
        *,
        case_date: dt.date,
        patient_id: str | None = None,
    ) -> RecordSources:
        """Read an uploaded FHIR R4 Bundle into this model's inputs, one status per input.

        Parameters
        ----------
        data : bytes
            The Bundle's JSON, at most :data:`MAX_RECORD_BYTES`.
        case_date : date
            The day the case is assessed at (not in the future): look-back windows and ages
            count from it.
        patient_id : str, optional
            Which patient of a Bundle holding several (a FHIR id).

        Returns
        -------
        RecordSources
            Every input, in schema order: the value the record gave (with its resources and
            the record's own value and unit), or the problem that leaves it to be entered by
            hand. The reading is recorded first (action ``record_read``: the model, the
            record's patient id, the case date and how many inputs it gave); the report is
            recorded when it is shown.

        Raises
        ------
        WorkflowError
            Not a clinician (the refusal is recorded), a suspended model, a file too large,
            a case date in the future, a patient id that is not a FHIR id, or a record the
            reader refuses (its own words).
        """
        self._require(session, "view_report")
        bundle = self._active_bundle(model_id)
        if len(data) > MAX_RECORD_BYTES:
            raise WorkflowError(
                f"Patient record: the file is {len(data):,} bytes, over the limit of "
                f"{MAX_RECORD_BYTES:,}; export only this patient's record."
            )
        self._check_case_date(case_date)
        _check_patient_id(patient_id)
        try:
            record = read_fhir_bundle(data)
            intake = case_from_record(
                bundle.features, record, case_date=case_date, patient_id=patient_id
            )
        except CaseLensError as exc:  # FhirRecordError: the reader's own words
            raise WorkflowError(f"Patient record: {exc}") from exc
        return self._recorded_intake(session, bundle, intake, {"bytes": len(data)})

    def configure_record_server(self, access: tuple[str, FhirAuth | None] | None) -> None:
        """Read records from this FHIR server (its base URL and how to sign in; the settings'
        ``CASELENS_FHIR_URL``), or from none."""
        self.record_server = access

    @property
    def reads_records_from_server(self) -> bool:
        """Whether a FHIR server is configured to read patients' records from."""
        return self.record_server is not None

    def case_from_server(
        self,
        session: UserSession,
        model_id: str,
        patient_id: str,
        *,
        case_date: dt.date,
    ) -> RecordSources:
        """Read the patient's record from the configured FHIR server into this model's
        inputs, exactly as :meth:`case_from_record` reads an uploaded one (the Patient and
        the resources the mapping names, searched by type and code; bounded in size, pages
        and time). The reading is recorded first (``record_read`` naming the server, never a
        token).

        Raises
        ------
        WorkflowError
            Not a clinician, a suspended model, no server configured, a case date in the
            future, a patient id that is not a FHIR id, or the server's refusal or failure in
            words (which request, why).
        """
        self._require(session, "view_report")
        bundle = self._active_bundle(model_id)
        access = self.record_server
        if access is None:
            raise WorkflowError(
                "No FHIR server is configured (CASELENS_FHIR_URL): upload the record instead."
            )
        self._check_case_date(case_date)
        _check_patient_id(patient_id)
        base_url, auth = access
        try:
            record = fetch_patient_record(base_url, patient_id, bundle.features, auth=auth)
            intake = case_from_record(
                bundle.features, record, case_date=case_date, patient_id=patient_id
            )
        except CaseLensError as exc:  # FhirServerError / FhirRecordError: their own words
            raise WorkflowError(f"Patient record from {base_url}: {exc}") from exc
        return self._recorded_intake(session, bundle, intake, {"server": base_url})

    def _check_case_date(self, case_date: dt.date) -> None:
        today = self._clock().date()
        if case_date > today:
            raise WorkflowError(
                f"Case date: {case_date.isoformat()} is in the future; choose today "
                f"({today.isoformat()}) or an earlier day."
            )

    def _recorded_intake(
        self,
        session: UserSession,
        bundle: ModelBundle,
        intake: RecordIntake,
        origin: dict[str, Any],
    ) -> RecordSources:
        """The intake as report data, recorded (who read which record) before it returns."""
        sources = checked_sources(intake_sources(intake, bundle.features), bundle.features)
        # The record's values are about to be shown: who read which record is in the trail
        # first (no values, no report: those are recorded with the report).
        asked = sum(1 for f in sources.fields if f.status not in FROM_RECORD)
        self._record(
            session,
            "record_read",
            audience="clinician",
            detail={
                "model_id": bundle.model_id,
                "record_patient_id": sources.patient_id,
                "case_date": sources.case_date,
                "inputs_from_record": len(sources.fields) - asked,
                "inputs_by_hand": asked,
                **origin,
            },
        )
        return sources

    def case_with_values_by_hand(
        self,
        session: UserSession,
        model_id: str,
        sources: RecordSources,
        by_hand: Mapping[str, Any],
    ) -> Case:
        """The case from the record's values and the clinician's values for the rest.

        ``by_hand`` holds a value (None = not recorded, where the input allows it) for
        exactly the inputs the record could not give; a value for an input the record gave
        is refused, never used in its place. The whole is checked like any case.

        Raises
        ------
        CaseValidationError
            Every problem, per field (a required input left empty, a value out of range,
            an input the record already gave).
        WorkflowError
            Not a clinician, or a suspended model.
        """
        self._require(session, "view_report")
        bundle = self._active_bundle(model_id)
        given = {f.feature: f.value for f in sources.fields if f.status in FROM_RECORD}
        overlap = [name for name in by_hand if name in given]
        if overlap:
            raise CaseValidationError(
                [
                    FieldProblem(
                        name,
                        "duplicate_field",
                        f"{bundle.features[name].label}: the value came from the record; it "
                        "is not entered by hand.",
                    )
                    for name in overlap
                ]
            )
        asked = {f.feature for f in sources.fields if f.status not in FROM_RECORD}
        # An asked input missing from by_hand is None: refused if required, never defaulted.
        values = {**given, **{name: by_hand.get(name) for name in asked}, **by_hand}
        case = validate_inputs(values, bundle.features, source=RECORD_SOURCE)
        fields = tuple(
            f.model_copy(
                update={"value": case.values.get(f.feature), "by_hand": f.feature in asked}
            )
            for f in sources.fields
        )
        return dataclasses.replace(
            case, record_sources=sources.model_copy(update={"fields": fields})
        )


def _check_patient_id(patient_id: str | None) -> None:
    if patient_id is not None and not FHIR_ID_PATTERN.fullmatch(patient_id):
        raise WorkflowError(
            "Patient id: expected a FHIR id (1–64 letters, digits, '-' or '.'), got "
            f"{cut(patient_id, 40)!r}."
        )


def _text(value: Any) -> str | None:
    """A record's date, version or id as text (dates in ISO 8601); None stays None."""
    if value is None:
        return None
    if isinstance(value, dt.date | dt.datetime):
        return cut(value.isoformat())
    return cut(value)


def _resource(source: SourceResource) -> SourceResourceRef:
    return SourceResourceRef(
        resource_type=cut(source.resource_type),
        resource_id=cut(source.resource_id),
        version=_text(source.version),
        date=_text(source.date),
    )


def intake_sources(intake: RecordIntake, schema: FeatureSchema) -> RecordSources:
    """The reader's ``RecordIntake`` as frozen report data, one field per input in schema
    order; only a value the record gave (filled or stated) is kept as a value."""
    fields = []
    for feature in schema:
        found = intake.fields.get(feature.name)
        if found is None:
            fields.append(
                FieldSource(
                    feature=feature.name,
                    status="not_mapped",
                    message=f"{feature.label}: the record reader said nothing about it.",
                )
            )
            continue
        sources = tuple(found.sources)
        fields.append(
            FieldSource(
                feature=feature.name,
                status=found.status,
                message=cut(found.message or "", MAX_MESSAGE_CHARS),
                sources=tuple(_resource(s) for s in sources[:MAX_SOURCES_PER_FIELD]),
                sources_total=len(sources),
                original=cut(found.original) if found.original else None,
                value=found.value if found.status in FROM_RECORD else None,
            )
        )
    patient = intake.patient
    return RecordSources(
        patient_id=None if patient is None else cut(patient.resource_id),
        patient=None if patient is None else _resource(patient),
        case_date=intake.case_date.isoformat(),
        fields=tuple(fields),
        notes=tuple(cut(note, MAX_MESSAGE_CHARS) for note in intake.notes[:MAX_NOTES]),
    )


def checked_sources(sources: RecordSources, schema: FeatureSchema) -> RecordSources:
    """The sources with every value the record gave checked like a typed one: a value the
    case checks refuse becomes an ``invalid_value`` problem (asked for by hand) with the
    checks' own words."""
    given = {f.feature: f.value for f in sources.fields if f.status in FROM_RECORD}
    try:
        validate_inputs(given, schema, source=RECORD_SOURCE)
        return sources
    except CaseValidationError as error:
        refused = {
            p.field: p.message
            for p in error.problems
            if p.field in given  # inputs not given yet are asked for anyway
        }
    fields = tuple(
        f.model_copy(
            update={
                "status": "invalid_value",
                "message": cut(f"The record's value was refused: {refused[f.feature]}", 1000),
                "value": None,
            }
        )
        if f.feature in refused
        else f
        for f in sources.fields
    )
    return sources.model_copy(update={"fields": fields})
