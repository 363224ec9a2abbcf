"""The audit store: one append-only table of chained, signed entries (SQLAlchemy Core).

SQLite (a file, WAL, ``synchronous=FULL``) by default; PostgreSQL by URL, through the same code.
Appends are serialised by a database lock — SQLite ``BEGIN IMMEDIATE``, PostgreSQL
``pg_advisory_xact_lock`` — so writers in other threads and processes never fork the chain.

By job: :mod:`.tables` (the tables, triggers and entry filters), :mod:`.locations` (where the
trail and its key live), :mod:`._engines` (SQLite and PostgreSQL set-up), :mod:`.trail` (the
:class:`AuditStore`, whose append path, reading and verifying are in :mod:`._append`,
:mod:`._read` and :mod:`._verify_trail`), :mod:`.opening` (opening the trail as the app and
command line do). The names below load lazily (:mod:`caselens._lazy`).
"""

from caselens._lazy import lazy_face

__all__ = [
    "DATA_DIR_ENV",
    "DEFAULT_DATA_DIR",
    "FUTURE_ALLOWANCE",
    "KEY_FILE_ENV",
    "KEY_ROTATED",
    "SCHEMA_VERSION",
    "URL_ENV",
    "AuditStore",
    "default_key_file",
    "default_location",
    "entries_table",
    "metadata",
    "open_trail",
    "recorded_elsewhere",
    "schema_version_table",
    "trail_entry_count",
]

_PARTS = {
    "DATA_DIR_ENV": "locations",
    "DEFAULT_DATA_DIR": "locations",
    "FUTURE_ALLOWANCE": "_verify_trail",
    "KEY_FILE_ENV": "locations",
    "KEY_ROTATED": "tables",
    "SCHEMA_VERSION": "tables",
    "URL_ENV": "locations",
    "AuditStore": "trail",
    "default_key_file": "locations",
    "default_location": "locations",
    "entries_table": "tables",
    "metadata": "tables",
    "open_trail": "opening",
    "recorded_elsewhere": "opening",
    "schema_version_table": "tables",
    "trail_entry_count": "opening",
}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
