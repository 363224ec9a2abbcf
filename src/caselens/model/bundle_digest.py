"""A bundle's version id: one SHA-256 over every file of the bundle folder.

Two bundles with the same model file but a different threshold or card are different
versions, so the version id covers the card, the schema, the data files and the model file,
not the model file alone. The signature file is left out (re-signing the same content with
another key is not a new version). The digest is over the sorted lines ``name sha256`` of
the folder's plain files, so it is the same on every machine and filesystem.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from caselens.model.bundle_signing import _folder_files, file_sha256


def bundle_sha256(folder: str | Path) -> str:
    """The SHA-256 version id of the bundle in ``folder`` (hex, 64 characters).

    Raises
    ------
    BundleError
        If the folder holds too many entries or a file over the signed-file limit.
    """
    root = Path(folder)
    files, _ = _folder_files(root)
    listing = "".join(f"{name} {file_sha256(root / name)[0]}\n" for name in files)
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()
