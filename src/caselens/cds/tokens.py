"""Checking the EHR's JWT as CDS Hooks 2.0 ("Trusting CDS Clients") requires, before anything
else is read from the request.

A token is accepted only when all of these hold:

* it comes as ``Authorization: Bearer <jwt>``, at most :data:`MAX_TOKEN_CHARS` long;
* its header's ``alg`` is ES384 or RS384 (the algorithms the specification names; never
  ``none`` or a shared-secret HS algorithm) and it names its key (``kid``);
* its ``iss`` is a configured issuer, and that issuer's JWKS holds the ``kid`` with a key of
  the algorithm's type; the signature verifies with that key (a ``jku`` in the header is
  ignored: keys come only from the operator's file);
* ``aud`` is the URL of the endpoint called (a string or a list holding it);
* ``exp``, ``iat``, ``jti`` and ``sub`` are present; ``exp`` has not passed and ``iat`` is not
  in the future (both with :data:`CLOCK_SKEW_S` of leeway); the token lives at most
  :data:`MAX_TOKEN_LIFETIME_S` (``exp - iat``, the specification's five minutes);
* its ``jti`` was never accepted before from this issuer, by any instance sharing the app
  database (:class:`caselens.access.CdsCallStore`).

A refusal says why in words that name no patient (they are logged and answered with 401).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import jwt
from jwt.exceptions import InvalidTokenError

from caselens.cds.issuers import TrustedIssuer

#: The signing algorithms CDS Hooks 2.0 names for the client's JWT.
ALLOWED_ALGORITHMS = ("ES384", "RS384")
#: Which JWK key type each allowed algorithm needs.
KEY_TYPE_OF = {"ES384": "EC", "RS384": "RSA"}
#: Longest lifetime a token may state (exp - iat): the specification's five minutes.
MAX_TOKEN_LIFETIME_S = 300
#: Clock difference allowed between the EHR and this service, in seconds.
CLOCK_SKEW_S = 30
#: Longest bearer token read (an RS384 token with a 4096-bit key is under 2 kB).
MAX_TOKEN_CHARS = 8_192
#: Claims every CDS Hooks client JWT carries.
REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "iat", "jti")


class TokenRefused(Exception):
    """The request's JWT is refused; ``reason`` says why (no patient data in it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedToken:
    """What a verified token says: the EHR (issuer), its client id (``sub``), the token id."""

    issuer: str
    client_id: str
    jti: str
    expires_at: dt.datetime
    tenant: str | None = None


#: ``(issuer, jti, expires_at) -> bool``: record the token id; False when it was seen.
ClaimTokenId = Callable[[str, str, dt.datetime], bool]


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise TokenRefused("no Authorization header (expected 'Bearer <JWT>')")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRefused("the Authorization header is not 'Bearer <JWT>'")
    token = token.strip()
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenRefused(f"the token is longer than {MAX_TOKEN_CHARS:,} characters")
    return token


def _header(token: str) -> tuple[str, str]:
    try:
        header = jwt.get_unverified_header(token)
    except InvalidTokenError as exc:
        raise TokenRefused(f"the token is not a JWT ({exc})") from None
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ALLOWED_ALGORITHMS:
        allowed = " or ".join(ALLOWED_ALGORITHMS)
        raise TokenRefused(f"algorithm {str(alg)[:20]!r} is not allowed (expected {allowed})")
    if not isinstance(kid, str) or not kid:
        raise TokenRefused("the token's header names no key ('kid')")
    return alg, kid


def _issuer(token: str, issuers: Mapping[str, TrustedIssuer]) -> TrustedIssuer:
    try:
        unverified = jwt.decode(token, options={"verify_signature": False})
    except InvalidTokenError as exc:
        raise TokenRefused(f"the token's claims cannot be read ({exc})") from None
    iss = unverified.get("iss")
    trusted = issuers.get(iss) if isinstance(iss, str) else None
    if trusted is None:
        raise TokenRefused("the issuer ('iss') is not a configured EHR")
    return trusted


def verify_token(
    authorization: str | None,
    *,
    audience: str,
    issuers: Mapping[str, TrustedIssuer],
    claim_token_id: ClaimTokenId,
) -> VerifiedToken:
    """The verified token of a request's ``Authorization`` header.

    Parameters
    ----------
    authorization : str or None
        The header's value.
    audience : str
        The URL of the endpoint called (``<CASELENS_CDS_URL>/cds-services/<id>``).
    issuers : mapping
        The trusted issuers (:func:`caselens.cds.issuers.load_issuers`).
    claim_token_id : callable
        Records an accepted token id; returns False when it was already recorded.

    Raises
    ------
    TokenRefused
        Saying which check failed.
    """
    token = _bearer(authorization)
    alg, kid = _header(token)
    trusted = _issuer(token, issuers)
    key = trusted.keys.get(kid)
    if key is None:
        raise TokenRefused("the issuer's key set holds no key with this 'kid'")
    if key.key_type != KEY_TYPE_OF[alg]:
        raise TokenRefused(f"the key named by 'kid' is not a {KEY_TYPE_OF[alg]} key for {alg}")
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[alg],
            audience=audience,
            issuer=trusted.issuer,
            leeway=CLOCK_SKEW_S,
            options={"require": list(REQUIRED_CLAIMS), "strict_aud": False},
        )
    except InvalidTokenError as exc:
        raise TokenRefused(f"the token does not verify ({type(exc).__name__}: {exc})") from None
    exp, iat, jti, sub = claims["exp"], claims["iat"], claims["jti"], claims["sub"]
    if exp - iat > MAX_TOKEN_LIFETIME_S:
        raise TokenRefused(
            f"the token lives {exp - iat:.0f} s (exp - iat); at most {MAX_TOKEN_LIFETIME_S} s"
        )
    if not isinstance(jti, str) or not jti or not isinstance(sub, str) or not sub:
        raise TokenRefused("'jti' and 'sub' must be non-empty strings")
    expires_at = dt.datetime.fromtimestamp(exp, dt.UTC).replace(tzinfo=None)
    if not claim_token_id(trusted.issuer, jti, expires_at):
        raise TokenRefused("this token ('jti') was already used")
    tenant = claims.get("tenant")
    return VerifiedToken(
        trusted.issuer, sub, jti, expires_at, tenant if isinstance(tenant, str) else None
    )
