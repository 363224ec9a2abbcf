"""The ``caselens`` command: a thin shell over the library, one module per command group
(:mod:`.samples`, :mod:`.bundle`, :mod:`.bench`, :mod:`.users`, :mod:`.monitor` with
``outcomes``, :mod:`.audit`).

Each command parses its options, makes one library call and turns a domain error into a
message (never a traceback). Commands that act on or show the trail go through the
workflow door (:mod:`.door`), as a named operator.
"""

from __future__ import annotations

import importlib
from typing import ClassVar

import click


class _LazyGroup(click.Group):
    """A group whose heavier sub-groups are imported only when one of their commands runs.

    ``lazy_commands`` maps a name to ``("module:attribute", short help)``; the short help is
    what ``--help`` lists, so listing the commands imports nothing.
    """

    lazy_commands: ClassVar[dict[str, tuple[str, str]]] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            target = self.lazy_commands[cmd_name][0]
            module_name, _, attribute = target.partition(":")
            try:
                command = getattr(importlib.import_module(module_name), attribute)
            except ImportError:  # an optional package that is not installed
                return None
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is not None:
                if not command.hidden:
                    rows.append((name, command.get_short_help_str(formatter.width - 6 - 10)))
            else:
                rows.append((name, self.lazy_commands[name][1]))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_LazyGroup)
@click.version_option(package_name="caselens")
def main() -> None:
    """CaseLens: calibrated risk, SHAP and LIME side by side, limitations and an audit trail.

    Example: caselens samples build
    """


def _register_groups() -> None:
    # Each command group is its own thin module. The audit group is imported (with
    # SQLAlchemy) only when an audit command runs, so `caselens --help` stays fast; the
    # others import only click at the top.
    from caselens.cli.bench import bench
    from caselens.cli.bundle import bundle
    from caselens.cli.bundle_sign import bundle_sign  # noqa: F401  (adds sign and verify)
    from caselens.cli.fhir import fhir
    from caselens.cli.monitor import monitor, outcomes
    from caselens.cli.samples import samples
    from caselens.cli.users import users

    for group in (samples, bundle, bench, users, monitor, outcomes, fhir):
        main.add_command(group)
    main.lazy_commands = {
        "serve-cds": (
            "caselens.cli.cds:serve_cds",
            "Serve the CDS Hooks service: discovery, patient-view cards, feedback.",
        ),
        "audit": (
            "caselens.cli.audit:audit",
            "Verify, inspect and export the tamper-evident audit trail.",
        ),
        "report": (
            "caselens.cli.report:report",
            "A displayed result, out of CaseLens (FHIR RiskAssessment).",
        ),
        "model": (
            "caselens.cli.model_approval:model",
            "A model's versions: history, diff, register, approve, shadow, retire.",
        ),
    }


_register_groups()
