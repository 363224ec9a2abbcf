"""The CDS service of this process's settings: the runtime (the app's database and trail)
and the checked configuration (``caselens serve-cds``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.applications import Starlette

from caselens.cds.app import CdsConfig, create_app
from caselens.cds.issuers import IssuersError, load_issuers
from caselens.runtime import Runtime
from caselens.settings import Settings


def _checked_url(name: str, url: str | None, *, required: bool) -> str | None:
    if not url:
        if required:
            raise IssuersError(
                f"{name}: required (the service's public URL, e.g. https://cds.example.org)."
            )
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise IssuersError(f"{name}: expected an http(s) URL without a query, got {url[:80]!r}.")
    return url.rstrip("/")


def config_from_settings(settings: Settings) -> CdsConfig:
    """The service's configuration: its URL, the trusted issuers, the app's URL.

    Raises
    ------
    IssuersError
        Naming the setting or file that cannot be used.
    """
    base = _checked_url("CASELENS_CDS_URL", settings.cds_url, required=True)
    app_url = _checked_url("CASELENS_APP_URL", settings.app_url, required=False)
    return CdsConfig(
        base_url=str(base),
        issuers=load_issuers(settings.cds_issuers_file),
        app_url=app_url,
        smart_launch=app_url is not None and _smart_launch(settings),
    )


def _smart_launch(settings: Settings) -> bool:
    """Whether the app offers sign-in with the EHR (its settings are whole and usable)."""
    from caselens.fhir import SmartLaunchError, smart_config_from_settings

    try:
        return smart_config_from_settings(settings) is not None
    except SmartLaunchError:
        return False


def app_from_settings(settings: Settings) -> tuple[Starlette, Runtime]:
    """The ASGI app over a runtime of ``settings`` (no background monitoring: the app's
    servers run the scheduled check), and that runtime (close it when done)."""
    config = config_from_settings(settings)
    runtime = Runtime.from_settings(settings, background=False)
    return create_app(runtime, config), runtime
