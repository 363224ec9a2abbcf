"""The catalogue: every bundle in a models folder, each refused alone when it fails."""

from __future__ import annotations

from dataclasses import dataclass
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
    """

    bundles: dict[str, ModelBundle]
    refused: dict[str, str]


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
        The good bundles by model id, and every refused folder with its reason. A second
        folder claiming a model id already loaded is refused, not silently swapped in.
    """
    bundles: dict[str, ModelBundle] = {}
    refused: dict[str, str] = {}
    for path in discover_bundles(folder):
        try:
            bundle = load_bundle(path, allow_pickle=allow_pickle, trust=trust)
        except Exception as exc:  # load_bundle wraps everything; this is the last guard
            refused[path.name] = str(exc) or type(exc).__name__
            continue
        if bundle.model_id in bundles:
            refused[path.name] = (
                f"The model id {bundle.model_id} is already served by the bundle folder "
                f"{bundles[bundle.model_id].path.name}; model ids must be unique."
            )
            continue
        bundles[bundle.model_id] = bundle
    return BundleCatalogue(bundles=bundles, refused=refused)
