"""The CDS Hooks 2.0 service: an EHR asks on ``patient-view`` and gets a card.

A shell over the workflow, beside the app: every card is a display recorded through the door
before the response is sent. :func:`create_app` builds the ASGI app over a runtime;
:func:`app_from_settings` builds both from the settings (``caselens serve-cds``);
docs/cds-hooks.md says what an EHR operator configures.
"""

from caselens._lazy import lazy_face

__all__ = [
    "ALLOWED_ALGORITHMS",
    "CdsConfig",
    "IssuerRateLimit",
    "IssuersError",
    "TokenRefused",
    "TrustedIssuer",
    "app_from_settings",
    "config_from_settings",
    "create_app",
    "discovery_document",
    "escape_markdown",
    "load_issuers",
    "prefetch_templates",
    "render_card",
    "verify_token",
]

_PARTS: dict[str, str] = {
    "ALLOWED_ALGORITHMS": "tokens",
    "CdsConfig": "app",
    "IssuerRateLimit": "rate_limit",
    "IssuersError": "issuers",
    "TokenRefused": "tokens",
    "TrustedIssuer": "issuers",
    "app_from_settings": "serve",
    "config_from_settings": "serve",
    "create_app": "app",
    "discovery_document": "discovery",
    "escape_markdown": "cards",
    "load_issuers": "issuers",
    "prefetch_templates": "prefetch",
    "render_card": "cards",
    "verify_token": "tokens",
}
__getattr__, __dir__ = lazy_face(globals(), _PARTS)
