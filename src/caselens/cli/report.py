"""``caselens report …``: a displayed result, out of CaseLens.

``caselens report fhir --entry N`` writes the FHIR R4 RiskAssessment Bundle (with its
Provenance, AI Device and model card) of the report audit entry N displayed; ``--send`` also
sends it as a transaction to the FHIR server ``CASELENS_FHIR_URL`` names. Both go
through the workflow door as a named operator (default role: reviewer), recorded before the
file is written or anything is sent.

``caselens report export ENTRY --format html|pdf --audience clinician|patient --out FILE``
writes the display of entry ENTRY as a self-contained HTML file or a PDF, as a reviewer does
from the replay page: the entry is replayed (verified, recorded) and the export recorded
before the file is built.

``caselens report verify FILE`` says whether an exported report file (HTML or PDF) is genuine
and equal to an entry of this trail; the check is recorded (``report_verified``).
"""

from __future__ import annotations

from pathlib import Path

import click

from caselens.cli.door import as_option, open_door

#: Exit status of ``report verify`` per verdict: 0 only for a genuine file (1 and 2 are
#: click's own: an error opening the trail, a wrong command line).
VERIFY_EXIT_CODES = {
    "genuine": 0,
    "altered": 3,
    "unknown_key": 4,
    "revoked_key": 4,
    "not_in_trail": 5,
    "unreadable": 6,
}


@click.group(name="report")
def report() -> None:
    """A displayed result, out of CaseLens (FHIR RiskAssessment, HTML or PDF file), and
    whether a report file is genuine.

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


@report.command("export")
@click.argument("entry", type=click.IntRange(min=1))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["html", "pdf"]),
    required=True,
    help="A self-contained HTML file or a PDF.",
)
@click.option(
    "--audience",
    type=click.Choice(["clinician", "patient"]),
    default="clinician",
    show_default=True,
    help="The clinician's full report or the patient's plain-language summary.",
)
@click.option(
    "--page-size",
    type=click.Choice(["A4", "Letter"]),
    default="A4",
    show_default=True,
    help="The paper the file is laid out for.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Write the file here.",
)
@as_option("reviewer")
def export(
    entry: int, file_format: str, audience: str, page_size: str, out: Path, as_role: str
) -> None:
    """Write the report entry ENTRY displayed as an HTML file or a PDF (a reviewer's export).

    The entry is replayed (verified and recorded as ``replayed``) and the export recorded
    (``report_exported``) through the workflow before the file is built.

    Example: caselens report export 42 --format pdf --audience clinician --out case-42.pdf
    """
    with open_door("report export", as_role, create_trail=False) as door:
        door.workflow.replay(door.session, entry)
        exported = door.workflow.export_report(
            door.session,
            entry,
            audience=audience,  # type: ignore[arg-type]
            file_format=file_format,  # type: ignore[arg-type]
            page_size=page_size,  # type: ignore[arg-type]
        )
    try:
        out.write_bytes(exported.data)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror}") from exc
    click.echo(
        f"Wrote the {audience}'s {file_format.upper()} of entry #{entry} to {out} "
        f"(recorded as entry #{exported.seq}).",
        err=True,
    )


@report.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@as_option("reviewer")
@click.pass_context
def verify(ctx: click.Context, file: Path, as_role: str) -> None:
    """Say whether FILE (an exported case report, HTML or PDF) is genuine.

    Prints one sentence: genuine and equal to entry N of this trail (and whether the key is
    current or retired); altered (which part); signed by an unknown or revoked key; or not in
    this trail. Recorded as ``report_verified`` with the verdict and the file's SHA-256.
    Exit status: 0 genuine, 3 altered, 4 unknown or revoked key, 5 not in this trail,
    6 not a report file.

    Example: caselens report verify caselens-report-42-clinician.pdf
    """
    from caselens.export.signature import MAX_REPORT_FILE_BYTES

    try:
        with file.open("rb") as handle:  # bounded: one byte more than a report may have
            data = handle.read(MAX_REPORT_FILE_BYTES + 1)
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror or exc}") from exc
    with open_door("report verify", as_role, create_trail=False) as door:
        verdict = door.workflow.verify_report_file(door.session, data, file_name=file.name)
    click.echo(verdict.sentence)
    ctx.exit(VERIFY_EXIT_CODES[verdict.outcome])
