"""What the CDS Hooks service keeps in the app database: the token ids (``jti``) it has
accepted, so a replayed JWT is refused by every service instance sharing the database, and
the cards it returned, so feedback on a card finds the audit entry that recorded it.

Neither table holds a token, a FHIR access token or a clinical value: a token id, its
issuer and expiry; a card's id, its entry number, model, report id and issuer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Column, DateTime, Engine, Integer, String, Table, delete, select

from caselens.access.app_tables import APP_METADATA, dialect_insert

#: Longest issuer kept (an issuer is a URL the operator configured; longer ones are refused
#: before they get here).
MAX_ISSUER_LENGTH = 500
#: Longest token id kept (RFC 7519 sets none; a UUID is 36 characters, so 200 is generous).
MAX_TOKEN_ID_LENGTH = 200
#: Expired token ids are purged at most once per this many claims (a delete per request
#: would double the writes).
PURGE_EVERY_CLAIMS = 200

cds_token_ids = Table(
    "cds_token_ids",
    APP_METADATA,
    Column("issuer", String(MAX_ISSUER_LENGTH), primary_key=True),
    Column("jti", String(MAX_TOKEN_ID_LENGTH), primary_key=True),
    Column("expires_at", DateTime, nullable=False, index=True),
)

cds_cards = Table(
    "cds_cards",
    APP_METADATA,
    Column("card_uuid", String(36), primary_key=True),
    Column("entry_seq", Integer, nullable=False),
    Column("model_id", String(100), nullable=False),
    Column("report_id", String(64), nullable=False),
    Column("issuer", String(MAX_ISSUER_LENGTH), nullable=False),
    Column("created_at", DateTime, nullable=False),
)


@dataclass(frozen=True)
class CardRecord:
    """A card the service returned: the audit entry that recorded it, and for whom."""

    card_uuid: str
    entry_seq: int
    model_id: str
    report_id: str
    issuer: str
    created_at: dt.datetime


class CdsCallStore:
    """The CDS service's token ids and cards, in the app database (shared by instances)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._claims = 0
        APP_METADATA.create_all(engine, tables=[cds_token_ids, cds_cards])

    def claim_token_id(self, issuer: str, jti: str, *, expires_at: dt.datetime) -> bool:
        """Record that the token ``jti`` of ``issuer`` was used; False when it already was
        (by this instance or any other on the same database), so the caller refuses it.

        ``expires_at`` is the token's expiry (naive UTC): after it the token is refused
        anyway, so its id is no longer needed and is purged.
        """
        if len(issuer) > MAX_ISSUER_LENGTH or len(jti) > MAX_TOKEN_ID_LENGTH:
            return False
        with self._engine.begin() as conn:
            insert = dialect_insert(conn, cds_token_ids).values(
                issuer=issuer, jti=jti, expires_at=expires_at
            )
            # RETURNING, not rowcount: the inserted row or nothing, alike on both databases.
            done = conn.execute(insert.on_conflict_do_nothing().returning(cds_token_ids.c.jti))
            claimed = done.first() is not None
        self._claims += 1
        if self._claims % PURGE_EVERY_CLAIMS == 0:
            self.purge_expired(now=dt.datetime.now(dt.UTC).replace(tzinfo=None))
        return claimed

    def purge_expired(self, *, now: dt.datetime) -> int:
        """Forget token ids whose tokens expired before ``now`` (naive UTC); how many."""
        with self._engine.begin() as conn:
            return conn.execute(
                delete(cds_token_ids).where(cds_token_ids.c.expires_at < now)
            ).rowcount

    def add_card(self, card: CardRecord) -> None:
        """Keep a returned card's id with its audit entry (for feedback)."""
        with self._engine.begin() as conn:
            conn.execute(
                cds_cards.insert().values(
                    card_uuid=card.card_uuid,
                    entry_seq=card.entry_seq,
                    model_id=card.model_id,
                    report_id=card.report_id,
                    issuer=card.issuer,
                    created_at=card.created_at,
                )
            )

    def card(self, card_uuid: str) -> CardRecord | None:
        """The card with this id, or None."""
        with self._engine.connect() as conn:
            row = conn.execute(select(cds_cards).where(cds_cards.c.card_uuid == card_uuid)).first()
        if row is None:
            return None
        return CardRecord(
            row.card_uuid, row.entry_seq, row.model_id, row.report_id, row.issuer, row.created_at
        )
