"""The tamper-evident audit trail: chained, signed entries; verification; FHIR and CSV export.

The data model is described in ``docs/audit_model.md``.
"""

from caselens.audit.bench import bench_audit
from caselens.audit.chain import GENESIS_HASH, hash_of, pseudonym, seal, sign
from caselens.audit.csv_export import to_csv, write_csv
from caselens.audit.errors import (
    AuditError,
    AuditEventError,
    AuditKeyError,
    AuditTrailMissing,
    AuditWriteError,
    ChainBroken,
)
from caselens.audit.fhir_export import to_audit_event, to_bundle
from caselens.audit.keys import key_id, load_key
from caselens.audit.records import (
    AUDIENCES,
    KNOWN_ACTIONS,
    AuditEntry,
    AuditEvent,
    canonical_json,
    format_time,
)
from caselens.audit.registry import KeyRegistry, parse_registry, read_registry, registry_line
from caselens.audit.replay_diff import (
    COMPARISON_OUTCOMES,
    FieldDiff,
    ReportComparison,
    compare_reports,
    diff_reports,
    replay_payload,
)
from caselens.audit.store import AuditStore, default_key_file, default_location, open_trail
from caselens.audit.verify import VerifyResult, parse_head, verify_chain
from caselens.audit.witness import Witness, witness_setup_sql

__all__ = [
    "AUDIENCES",
    "COMPARISON_OUTCOMES",
    "GENESIS_HASH",
    "KNOWN_ACTIONS",
    "AuditEntry",
    "AuditError",
    "AuditEvent",
    "AuditEventError",
    "AuditKeyError",
    "AuditStore",
    "AuditTrailMissing",
    "AuditWriteError",
    "ChainBroken",
    "FieldDiff",
    "KeyRegistry",
    "ReportComparison",
    "VerifyResult",
    "Witness",
    "bench_audit",
    "canonical_json",
    "compare_reports",
    "default_key_file",
    "default_location",
    "diff_reports",
    "format_time",
    "hash_of",
    "key_id",
    "load_key",
    "open_trail",
    "parse_head",
    "parse_registry",
    "pseudonym",
    "read_registry",
    "registry_line",
    "replay_payload",
    "seal",
    "sign",
    "to_audit_event",
    "to_bundle",
    "to_csv",
    "verify_chain",
    "witness_setup_sql",
    "write_csv",
]
