"""Opening the trail the way the app and the command line find it, and refusing to start
an empty trail where the checkpoints or the witness show one had entries.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from caselens.audit.checkpoints import (
    read_checkpoints,
)
from caselens.audit.errors import (
    AuditError,
    AuditKeyError,
    AuditTrailMissing,
    AuditWriteError,
)
from caselens.audit.records import (
    utc_now,
)
from caselens.audit.store._verify_trail import entries_text
from caselens.audit.store.locations import DATA_DIR_ENV, default_key_file, default_location
from caselens.audit.store.trail import AuditStore
from caselens.audit.witness import Witness
from caselens.settings import environment


def trail_entry_count(location: str | os.PathLike[str]) -> int:
    """How many entries the trail at ``location`` holds (0 when there is no trail yet).

    Raises
    ------
    AuditWriteError
        If the database exists but cannot be read (a server that does not answer): "no
        trail" must never be concluded from a trail that could not be reached.
    """
    try:
        store = AuditStore.open(location, key=bytes(32), create=False)
    except AuditWriteError:
        raise
    except AuditError:
        return 0
    try:
        return store.head()[0]
    finally:
        store.close()


def recorded_elsewhere(
    checkpoint_file: str | os.PathLike[str] | None, witness: Witness | None
) -> tuple[int, str] | None:
    """The most entries the checkpoint file or the witness says the trail held, and which
    of them said so (None when neither records any).

    Any record counts, signed or not: it can only stop a new, empty trail from starting,
    which is the safe side (the message tells the operator how to proceed).
    """
    found: list[tuple[int, str]] = []
    if checkpoint_file is not None:
        for checkpoint in read_checkpoints(checkpoint_file):
            found.append(
                (
                    checkpoint.count,
                    f"the checkpoint file {checkpoint_file} (checkpoint of "
                    f"{checkpoint.recorded_at})",
                )
            )
    if witness is not None:
        for held in witness.read():
            found.append(
                (
                    held.checkpoint.count,
                    f"the witness ({witness.description}; received {held.witnessed_at})",
                )
            )
    most = max(found, key=lambda item: item[0], default=None)
    return most if most is not None and most[0] > 0 else None


def open_trail(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    create: bool = True,
    env: Mapping[str, str] | None = None,
    clock: Callable[[], str] = utc_now,
) -> AuditStore:
    """Open the trail the way the app and CLI find it.

    The database is ``CASELENS_AUDIT_URL`` or ``<data dir>/audit.sqlite``; the key is
    ``CASELENS_AUDIT_KEY`` or ``<data dir>/audit.key`` (created on first use when ``create``,
    but never for a trail that already has entries); retired keys sit beside the key file
    (``audit.key.retired/``); signed checkpoints go to ``CASELENS_AUDIT_CHECKPOINTS`` or
    ``<data dir>/audit.checkpoints.jsonl`` and to the witness, ``CASELENS_AUDIT_WITNESS`` or
    ``<data dir>/audit.witness.sqlite``; key rotations are checked against the registry in
    ``CASELENS_AUDIT_KEY_REGISTRY``.

    Parameters
    ----------
    data_dir : path, optional
        The data directory (default ``$CASELENS_DATA_DIR``, else ``./.caselens-data``).
    create : bool
        Create the trail and key if missing.
    env : mapping, optional
        The environment to read (default: the ``CASELENS_*`` variables, read by
        :func:`caselens.settings.environment`).
    clock : callable
        The trail's clock (tests pass their own).

    Returns
    -------
    AuditStore

    Raises
    ------
    AuditKeyError
        If the trail has entries but its key is missing: a new key would make the whole
        history unverifiable, so CaseLens refuses to start until the key is restored.
    AuditTrailMissing
        If the trail is missing or empty but its checkpoints or witness show it had entries:
        CaseLens refuses to start a new, empty trail in its place.
    AuditWriteError
        If the trail or (for an empty trail) the witness cannot be reached.
    """
    from caselens.audit.checkpoints import default_checkpoint_file
    from caselens.audit.keys import KEY_ENV, load_key, load_retired_keys
    from caselens.audit.registry import default_registry_file
    from caselens.audit.witness import default_witness_location

    env = environment() if env is None else dict(env)
    if data_dir is not None:
        env[DATA_DIR_ENV] = os.fspath(data_dir)
    location = default_location(env)
    key_file = default_key_file(env)
    checkpoint_file = default_checkpoint_file(env)
    held = trail_entry_count(location)
    if held and not env.get(KEY_ENV) and not key_file.exists():
        raise AuditKeyError(
            f"The audit trail holds {held} entries but its key file {key_file} is missing. "
            "Restore the key from your backup (see docs/audit_model.md). CaseLens will not "
            "create a new key for an existing trail: its history could no longer be verified."
        )
    witness = Witness.open(default_witness_location(env))
    try:
        if not held:
            _refuse_a_lost_trail(location, checkpoint_file, witness)
        key = load_key(key_file, create=create, env=env)
        return AuditStore.open(
            location,
            key=key,
            create=create,
            retired_keys=load_retired_keys(key_file),
            checkpoint_file=checkpoint_file,
            witness=witness,
            key_registry=default_registry_file(env),
            clock=clock,
        )
    except BaseException:
        witness.close()
        raise


def _refuse_a_lost_trail(location: str, checkpoint_file: Path, witness: Witness) -> None:
    """Raise ``AuditTrailMissing`` when an empty or missing trail is known to have had entries."""
    recorded = recorded_elsewhere(checkpoint_file, witness)
    if recorded is None:
        return
    count, source = recorded
    held = entries_text(count)
    raise AuditTrailMissing(
        f"The audit trail at {location} is missing or empty, but {source} records that it "
        f"held {held}. CaseLens will not start a new, empty trail in its place: the "
        "history would silently restart. To recover, restore the trail's database from your "
        "backup and run `caselens audit verify` (it compares the restored trail with the "
        "checkpoints and the witness). If the trail was deliberately archived, archive its "
        "checkpoint file and witness with it and point CASELENS_AUDIT_CHECKPOINTS and "
        "CASELENS_AUDIT_WITNESS at new, empty locations (see docs/audit_model.md)."
    )
