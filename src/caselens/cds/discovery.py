"""The discovery document (``GET /cds-services``): one ``patient-view`` service per model.

Only active models are listed: a suspended model offers no prediction, so an EHR discovering
services now is not offered it. An EHR that cached an earlier discovery may still call a
model suspended since; it gets a short "model suspended" info card and no prediction.
"""

from __future__ import annotations

from typing import Any

from caselens.access import ModelStatusStore
from caselens.cds.prefetch import prefetch_templates
from caselens.model.bundle import BundleCatalogue

#: Longest description listed (the card's summary; discovery is a catalogue, not a report).
MAX_DESCRIPTION_CHARS = 1_000


def discovery_document(catalogue: BundleCatalogue, statuses: ModelStatusStore) -> dict[str, Any]:
    """``{"services": [...]}``: each active model as a ``patient-view`` service, its id the
    model id, its title and description from the model card, its prefetch from the mapping."""
    services = []
    for model_id in sorted(catalogue.bundles):
        if statuses.get(model_id).suspended:
            continue
        bundle = catalogue.bundles[model_id]
        services.append(
            {
                "hook": "patient-view",
                "id": model_id,
                "title": f"{bundle.card.name} {bundle.card.version} (CaseLens)",
                "description": " ".join(bundle.card.summary.split())[:MAX_DESCRIPTION_CHARS],
                "prefetch": prefetch_templates(bundle),
            }
        )
    return {"services": services}
