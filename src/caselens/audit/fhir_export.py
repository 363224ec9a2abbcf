"""FHIR R4 AuditEvent export (IHE BALP PatientRead pattern for display events).

Produces plain JSON dicts (no FHIR library at run time); the tests validate them against the
R4 model of ``fhir.resources``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from typing import Any

from caselens.audit.chain import pseudonym
from caselens.audit.records import AuditEntry

AUDIT_EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION = "http://hl7.org/fhir/restful-interaction"
AUDIT_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
PURPOSE_OF_USE = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
# Local code systems (URNs, so no web host is implied) for what FHIR has no code for.
ACTION_SYSTEM = "urn:caselens:audit-action"
USER_SYSTEM = "urn:caselens:user"
ROLE_SYSTEM = "urn:caselens:role"
PATIENT_SYSTEM = "urn:caselens:patient"
PSEUDONYM_SYSTEM = "urn:caselens:patient-pseudonym"
ENTRY_SYSTEM = "urn:caselens:audit-entry-sha256"

#: Events that showed a result to someone: BALP PatientRead (rest / read / R). A what-if
#: shows the patient's other values too, so it is a read of their data as well.
DISPLAY_ACTIONS = frozenset({"viewed", "patient_viewed", "previewed", "replayed", "what_if_viewed"})
# FHIR AuditEventAction for the other actions: C create, R read, U update, E execute.
_ACTION_CODE = {"exported": "R", "feedback": "C", "model_suspended": "U", "model_reinstated": "U"}
# AuditEventOutcome: 0 success, 4 minor failure (the request was refused, as designed).
_REFUSED = frozenset({"sign_in_refused", "access_refused"})
_UUID_NAMESPACE = uuid.UUID("6b1f3c1e-5a0e-4d51-9a53-4d1c2a7e0c11")


def to_audit_event(entry: AuditEntry, *, pseudonymise_key: bytes | None = None) -> dict[str, Any]:
    """Map one entry to a FHIR R4 AuditEvent resource (as a JSON dict).

    Parameters
    ----------
    entry : AuditEntry
    pseudonymise_key : bytes, optional
        When given, the patient identifier is the keyed pseudonym instead of the reference.

    Returns
    -------
    dict
        The AuditEvent resource.
    """
    display = entry.action in DISPLAY_ACTIONS
    subtype = [{"system": ACTION_SYSTEM, "code": entry.action}]
    if display:
        subtype.insert(0, {"system": RESTFUL_INTERACTION, "code": "read", "display": "read"})
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": f"caselens-audit-{entry.seq}",
        "type": (
            {"system": AUDIT_EVENT_TYPE, "code": "rest", "display": "Restful Operation"}
            if display
            else {"system": ACTION_SYSTEM, "code": entry.action}
        ),
        "subtype": subtype,
        "action": "R" if display else _ACTION_CODE.get(entry.action, "E"),
        "recorded": entry.recorded_at,
        "outcome": "4" if entry.action in _REFUSED else "0",
        "agent": [_agent(entry)],
        "source": {
            "site": "CaseLens",
            "observer": {"display": "CaseLens"},
            "type": [{"system": SOURCE_TYPE, "code": "4", "display": "Application Server"}],
        },
    }
    if display:
        # Why the data was shown: treatment, or (for safety reviewers) healthcare operations.
        purpose = "HOPERAT" if entry.audience == "reviewer" else "TREAT"
        resource["purposeOfEvent"] = [{"coding": [{"system": PURPOSE_OF_USE, "code": purpose}]}]
    entities: list[dict[str, Any]] = []
    if entry.patient_ref is not None:
        entities.append(_patient_entity(entry.patient_ref, pseudonymise_key))
    entities.append(_entry_entity(entry))
    resource["entity"] = entities
    return resource


def _agent(entry: AuditEntry) -> dict[str, Any]:
    """The user who acted, as the AuditEvent's requesting agent."""
    return {
        "who": {
            "identifier": {"system": USER_SYSTEM, "value": entry.actor_id},
            "display": entry.actor_name,
        },
        "name": entry.actor_name,
        "role": [
            {
                "coding": [{"system": ROLE_SYSTEM, "code": entry.actor_role}],
                "text": entry.actor_role,
            }
        ],
        "requestor": True,
    }


def _patient_entity(patient_ref: str, pseudonymise_key: bytes | None) -> dict[str, Any]:
    """The patient the entry is about: by reference, or by keyed pseudonym when a key is given."""
    if pseudonymise_key is not None:
        ident = {
            "system": PSEUDONYM_SYSTEM,
            "value": pseudonym(patient_ref, key=pseudonymise_key),
        }
    else:
        ident = {"system": PATIENT_SYSTEM, "value": patient_ref}
    return {
        "what": {"type": "Patient", "identifier": ident},
        "type": {"system": AUDIT_ENTITY_TYPE, "code": "1", "display": "Person"},
        "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
    }


def _entry_entity(entry: AuditEntry) -> dict[str, Any]:
    """The audit entry itself as an entity: its hash, and its non-empty details."""
    details = [
        ("seq", str(entry.seq)),
        ("audience", entry.audience),
        ("model_id", entry.model_id),
        ("model_version", entry.model_version),
        ("model_sha256", entry.model_sha256),
        (
            "report_sha256",
            hashlib.sha256(entry.report_json.encode("utf-8")).hexdigest()
            if entry.report_json is not None
            else None,
        ),
        ("rendered_digest", entry.rendered_digest),
        ("session_id", entry.session_id),
        ("prev_hash", entry.prev_hash),
        ("hmac", entry.hmac),
    ]
    return {
        "what": {"identifier": {"system": ENTRY_SYSTEM, "value": entry.entry_hash}},
        "type": {"system": AUDIT_ENTITY_TYPE, "code": "2", "display": "System Object"},
        "role": {"system": OBJECT_ROLE, "code": "3", "display": "Report"},
        "name": f"CaseLens audit entry {entry.seq}",
        "detail": [{"type": k, "valueString": v} for k, v in details if v],
    }


def to_bundle(
    entries: Iterable[AuditEntry], *, pseudonymise_key: bytes | None = None
) -> dict[str, Any]:
    """A FHIR R4 ``collection`` Bundle of AuditEvents, one per entry.

    Examples
    --------
    >>> to_bundle([])["type"]
    'collection'
    """
    items = []
    for entry in entries:
        items.append(
            {
                # Stable per entry: exporting twice gives the same fullUrl.
                "fullUrl": f"urn:uuid:{uuid.uuid5(_UUID_NAMESPACE, entry.entry_hash)}",
                "resource": to_audit_event(entry, pseudonymise_key=pseudonymise_key),
            }
        )
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "collection"}
    if items:  # FHIR forbids empty arrays
        bundle["entry"] = items
    return bundle
