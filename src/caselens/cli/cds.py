"""``caselens serve-cds``: the CDS Hooks 2.0 service under uvicorn, beside the app."""

from __future__ import annotations

import click

from caselens.errors import CaseLensError


@click.command("serve-cds")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8090, show_default=True, type=click.IntRange(1, 65535))
def serve_cds(host: str, port: int) -> None:
    """Serve the CDS Hooks service (discovery, patient-view cards, feedback), sharing the
    app's database and audit trail (CASELENS_CDS_URL, CASELENS_CDS_ISSUERS, CASELENS_APP_URL;
    docs/cds-hooks.md).

    Example: caselens serve-cds --host 0.0.0.0 --port 8090
    """
    import uvicorn

    from caselens.cds.serve import app_from_settings
    from caselens.settings import Settings

    try:
        app, runtime = app_from_settings(Settings.from_environment())
        runtime.workflow  # noqa: B018 - open the trail and stores now: a bad setting stops here
    except CaseLensError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=False)
    finally:
        runtime.close()
