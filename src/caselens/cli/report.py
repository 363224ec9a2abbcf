"""``caselens report …``: a displayed result, out of CaseLens.

``caselens report fhir --entry N`` writes the FHIR R4 RiskAssessment Bundle (with its
Provenance, AI Device and model card) of the report audit entry N displayed; ``--send`` also
sends it as a transaction to the FHIR server ``CASELENS_FHIR_URL`` names. Both go
through the workflow door as a named operator (default role: reviewer), recorded before the
file is written or anything is sent.
"""

from __future__ import annotations

from pathlib import Path

import click

from caselens.cli.door import as_option, open_door


@click.group(name="report")
def report() -> None:
    """A displayed result, out of CaseLens (FHIR RiskAssessment).

    Example: caselens report fhir --entry 42 --out result.fhir.json
    """


@report.command("fhir")
@click.option(
    "--entry",
    "entry",
    type=click.IntRange(min=1),
    required=True,
    help="The audit entry that displayed the report to a clinician (its number).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the Bundle here (default: standard output).",
)
@click.option(
    "--send",
    is_flag=True,
    help="Also send it to the FHIR server CASELENS_FHIR_URL names (a transaction).",
)
@as_option("reviewer")
def fhir(entry: int, out: Path | None, send: bool, as_role: str) -> None:
    """Write the FHIR RiskAssessment of entry N's displayed report (and send it with --send).

    Checked and recorded (``exported_fhir``) through the workflow before the file is written;
    a send is recorded with the server's answer (``fhir_sent``) or the failure
    (``fhir_send_failed``), and a failure ends the command with status 1.

    Example: caselens report fhir --entry 42 --out result.fhir.json --send
    """
    with open_door("report fhir", as_role, create_trail=False) as door:
        exported = door.workflow.risk_assessment(door.session, entry)
        sent = door.workflow.send_risk_assessment(door.session, entry) if send else None
    if out is None:
        click.echo(exported.data.decode("utf-8"))
    else:
        try:
            out.write_bytes(exported.data)
        except OSError as exc:
            raise click.ClickException(f"cannot write {out}: {exc.strerror}") from exc
        click.echo(
            f"Wrote the FHIR RiskAssessment of entry #{entry} to {out} "
            f"(recorded as entry #{exported.seq}).",
            err=True,
        )
    if sent is not None:
        if not sent.ok:
            raise click.ClickException(sent.message)
        click.echo(sent.message, err=True)
