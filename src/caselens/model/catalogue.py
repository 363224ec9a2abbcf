"""The catalogue: every bundle in a models folder, each refused alone when it fails.

A model id may be served by several bundle folders, one per **version** (by the bundle's
SHA-256, :mod:`caselens.model.bundle_digest`). Which version is live is governance state,
kept in the app database (:mod:`caselens.lifecycle`); the catalogue only knows which
versions exist. ``bundles`` holds one version per model id (the first folder by name) for
callers outside the workflow; the workflow resolves the live one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from caselens.model.bundle_layout import (
    CARD_FILE,
    ModelBundle,
)
from caselens.model.bundle_read import load_bundle
from caselens.model.bundle_signing import BundleTrust


def discover_bundles(folder: str | Path) -> list[Path]:
    """Bundle folders (those holding a card.json) directly inside ``folder``, sorted by name."""
    root = Path(folder)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / CARD_FILE).is_file())


@dataclass(frozen=True)
class BundleCatalogue:
    """The bundles a models folder offers, and those refused (folder name -> reason).

    Attributes
    ----------
    bundles : dict of str to ModelBundle
        Loaded bundles by model id.
    refused : dict of str to str
        Refused bundle folders by folder name, with the reason.
    versions : dict of str to tuple of ModelBundle
        Every loaded version of each model id (folder-name order), ``bundles``' one
        included. Empty for a catalogue built by hand: then each bundle is its model's only
        version (see :meth:`all_versions`).
    """

    bundles: dict[str, ModelBundle]
    refused: dict[str, str]
    versions: dict[str, tuple[ModelBundle, ...]] = field(default_factory=dict)

    def all_versions(self, model_id: str) -> tuple[ModelBundle, ...]:
        """Every loaded version of ``model_id`` (empty when the id is not catalogued)."""
        if model_id in self.versions:
            return self.versions[model_id]
        bundle = self.bundles.get(model_id)
        return () if bundle is None else (bundle,)

    def version(self, model_id: str, bundle_sha256: str) -> ModelBundle | None:
        """The loaded version of ``model_id`` with this version id, or None."""
        return next(
            (b for b in self.all_versions(model_id) if b.bundle_sha256 == bundle_sha256), None
        )

    def every_bundle(self) -> tuple[ModelBundle, ...]:
        """Every loaded version of every model id (for replay and re-run by hash)."""
        return tuple(b for model_id in self.bundles for b in self.all_versions(model_id))

    def producer(self, model_sha256: str, bundle_sha256: str | None = None) -> ModelBundle | None:
        """The loaded version that produced a report: by its bundle SHA-256 when the report
        names one (two versions may share a model file), else by the model file's SHA-256
        (reports recorded before versions were kept)."""
        return find_producer(self.every_bundle(), model_sha256, bundle_sha256)


def find_producer(
    bundles: Iterable[ModelBundle], model_sha256: str, bundle_sha256: str | None = None
) -> ModelBundle | None:
    """Among ``bundles``, the version a report names (see :meth:`BundleCatalogue.producer`);
    with a bundle SHA-256 both hashes must match (a report naming one version's bundle and
    another's model file matches none)."""
    candidates = list(bundles)
    if bundle_sha256:
        return next(
            (
                b
                for b in candidates
                if b.bundle_sha256 == bundle_sha256 and b.model_sha256 == model_sha256
            ),
            None,
        )
    return next((b for b in candidates if b.model_sha256 == model_sha256), None)


def load_catalogue(
    folder: str | Path, *, allow_pickle: bool = False, trust: BundleTrust | None = None
) -> BundleCatalogue:
    """Load every bundle in ``folder``; a bundle that fails is refused alone, never fatal.

    Parameters
    ----------
    folder : str or Path
        The models folder (each bundle is a sub-folder holding a card.json).
    allow_pickle : bool, default False
        Passed to :func:`load_bundle`.
    trust : BundleTrust, optional
        Passed to :func:`load_bundle`: with ``trust.required``, an unsigned, altered or
        untrusted bundle is refused here with the reason.

    Returns
    -------
    BundleCatalogue
        The good bundles by model id with every version of each, and every refused folder
        with its reason. A second folder holding a version already loaded (the same bundle
        SHA-256) is refused, not silently loaded twice.
    """
    bundles: dict[str, ModelBundle] = {}
    versions: dict[str, list[ModelBundle]] = {}
    refused: dict[str, str] = {}
    for path in discover_bundles(folder):
        try:
            bundle = load_bundle(path, allow_pickle=allow_pickle, trust=trust)
        except Exception as exc:  # load_bundle wraps everything; this is the last guard
            refused[path.name] = str(exc) or type(exc).__name__
            continue
        same = next(
            (
                b
                for b in versions.get(bundle.model_id, [])
                if b.bundle_sha256 == bundle.bundle_sha256
            ),
            None,
        )
        if same is not None:
            refused[path.name] = (
                f"This version of {bundle.model_id} (bundle SHA-256 "
                f"{bundle.bundle_sha256[:16]}…) is already served by the bundle folder "
                f"{same.path.name}; each version is loaded once."
            )
            continue
        bundles.setdefault(bundle.model_id, bundle)
        versions.setdefault(bundle.model_id, []).append(bundle)
    return BundleCatalogue(
        bundles=bundles,
        refused=refused,
        versions={model_id: tuple(found) for model_id, found in versions.items()},
    )
