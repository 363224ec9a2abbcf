"""``caselens model …``: a model id's versions (the model lifecycle, issue 27).

The group only; its commands live in their own modules (:mod:`.model_approval`: register,
approve, shadow, retire).
"""

from __future__ import annotations

import click


@click.group(name="model")
def model() -> None:
    """A model's versions: register, approve, run in shadow, retire.

    Example: caselens model register heart-disease 3f2a9c0d1e2b --reason "Recalibrated"
    """


# The commands attach themselves to the group when their module is imported (after the
# group exists, so the circle closes harmlessly).
from caselens.cli import model_approval  # noqa: E402, F401
