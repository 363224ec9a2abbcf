"""The operator's SMART App Launch settings as one :class:`SmartLaunchConfig` (or none).

The EHR is described by ``CASELENS_SMART_*`` (client id, FHIR base, authorize and token
endpoints, the JWKS file of its id_token keys, the ``fhirUser`` → user file, optional scopes);
the redirect URI is CaseLens's own address, ``CASELENS_APP_URL`` + :data:`LAUNCH_PATH`. Every
problem is a :class:`SmartLaunchError` naming the variable or file and what is expected.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from caselens.fhir.smart_launch import DEFAULT_SCOPES, SmartLaunchConfig, SmartLaunchError

#: The app's redirect URI: the EHR sends the browser back here (``?code=&state=``). Before
#: the launch route existed it was also the launch address, so ``?launch=&iss=`` here still
#: works (the page points to :data:`LAUNCH_ROUTE`).
LAUNCH_PATH = "/launch"
#: The launch address the operator registers with the EHR (``?launch=&iss=``) and the sign-in
#: page's button (no parameters): a server route that answers with a redirect to the EHR's
#: sign-in, in the same tab (a Streamlit page cannot redirect).
LAUNCH_ROUTE = "/_caselens/launch"
#: The variables a SMART launch needs (the others are optional).
REQUIRED_VARIABLES = {
    "CASELENS_SMART_CLIENT_ID": "smart_client_id",
    "CASELENS_SMART_ISSUER": "smart_issuer",
    "CASELENS_SMART_AUTHORIZE_URL": "smart_authorize_url",
    "CASELENS_SMART_TOKEN_URL": "smart_token_url",
    "CASELENS_SMART_JWKS_FILE": "smart_jwks_file",
    "CASELENS_SMART_USERS_FILE": "smart_users_file",
}
#: Largest users file read (an EHR's clinicians: a few thousand lines at most).
MAX_USERS_FILE_BYTES = 1_000_000
#: A ``fhirUser`` reference CaseLens maps: a Practitioner (or PractitionerRole) and its id.
FHIR_USER_PATTERN = re.compile(r"(Practitioner|PractitionerRole)/[A-Za-z0-9\-.]{1,64}", re.ASCII)
#: A CaseLens user name in the users file (the account store's own limit is checked later).
_USER_ID = re.compile(r"[A-Za-z0-9._@\-]{1,64}", re.ASCII)


def read_fhir_users(path: Path) -> dict[str, str]:
    """The users file: a JSON object ``{"Practitioner/123": "dr.lee", ...}``.

    Raises
    ------
    SmartLaunchError
        Naming the file and the entry that is not a ``fhirUser`` → user name pair.
    """
    where = f"CASELENS_SMART_USERS_FILE ({path})"
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_USERS_FILE_BYTES + 1)
    except OSError as exc:
        raise SmartLaunchError(f"{where}: cannot be read ({exc.strerror or exc}).") from None
    if len(raw) > MAX_USERS_FILE_BYTES:
        raise SmartLaunchError(f"{where}: larger than {MAX_USERS_FILE_BYTES:,} bytes.")
    try:
        data: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise SmartLaunchError(f"{where}: not JSON.") from None
    if not isinstance(data, dict):
        raise SmartLaunchError(
            f'{where}: expected a JSON object such as {{"Practitioner/123": "dr.lee"}}.'
        )
    users: dict[str, str] = {}
    for fhir_user, user_id in data.items():
        if not FHIR_USER_PATTERN.fullmatch(fhir_user):
            raise SmartLaunchError(
                f"{where}: {fhir_user[:80]!r} is not a fhirUser reference "
                "(expected Practitioner/<id> or PractitionerRole/<id>)."
            )
        if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
            raise SmartLaunchError(
                f"{where}: the user name for {fhir_user} is not a CaseLens user name."
            )
        users[fhir_user] = user_id
    return users


def smart_config_from_settings(settings: Any) -> SmartLaunchConfig | None:
    """The configured EHR as a :class:`SmartLaunchConfig`; None when no SMART variable is set.

    Raises
    ------
    SmartLaunchError
        When it is half configured (naming the variables missing), ``CASELENS_APP_URL`` is
        unset, or a value or file is not what the engine expects.
    """
    values = {name: getattr(settings, field) for name, field in REQUIRED_VARIABLES.items()}
    optional = (settings.smart_id_token_issuer, settings.smart_scopes)
    if not any(v is not None for v in (*values.values(), *optional)):
        return None
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise SmartLaunchError(
            f"SMART launch settings: set {', '.join(missing)} as well (or no CASELENS_SMART_* "
            "variable at all)."
        )
    if not settings.app_url:
        raise SmartLaunchError(
            "SMART launch settings: CASELENS_APP_URL is unset; the EHR redirects back to it "
            f"(+ {LAUNCH_PATH})."
        )
    scopes = tuple(settings.smart_scopes.split()) if settings.smart_scopes else DEFAULT_SCOPES
    return SmartLaunchConfig(
        client_id=settings.smart_client_id,
        redirect_uri=settings.app_url.rstrip("/") + LAUNCH_PATH,
        authorize_endpoint=settings.smart_authorize_url,
        token_endpoint=settings.smart_token_url,
        issuer=settings.smart_issuer.rstrip("/"),
        jwks_file=Path(settings.smart_jwks_file),
        fhir_user_roles=read_fhir_users(Path(settings.smart_users_file)),
        scopes=scopes,
        id_token_issuer=settings.smart_id_token_issuer,
    )
