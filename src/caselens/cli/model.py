"""``caselens model …``: a model id's versions (the model lifecycle, issue 27).

The group only; its commands live in their own modules and attach themselves to it
(:mod:`.model_approval`: register, approve, shadow, retire), so ``caselens model`` is
registered by the module that holds them (see :mod:`.main`).
"""

from __future__ import annotations

import click


@click.group(name="model")
def model() -> None:
    """A model's versions: register, approve, run in shadow, retire.

    Example: caselens model register heart-disease 3f2a9c0d1e2b --reason "Recalibrated"
    """
