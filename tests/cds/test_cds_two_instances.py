"""Two CDS service instances behind one public URL, sharing one PostgreSQL (app database and
audit trail): a token accepted by one is refused by the other, and feedback sent to either
finds a card the other returned."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from caselens.bench.app import free_port
from caselens.bench.cds_ehr import (
    HEART,
    SimulatedEhr,
    cds_server,
    heart_prefetch,
    hook_request,
    mapped_heart_disease,
    write_issuers,
)
from caselens.cds import create_app
from caselens.cds.serve import config_from_settings
from caselens.runtime import Runtime
from caselens.settings import Settings
from lifecycle_fixtures import approve_first_versions

#: The public URL both instances serve (a load balancer's): every token's audience.
PUBLIC_URL = "https://cds.example.org"


@pytest.fixture()
def two_instances(tmp_path, new_pg_database) -> Iterator[dict]:
    models = tmp_path / "models"
    models.mkdir()
    mapped_heart_disease(models)
    ehr = SimulatedEhr()
    settings = Settings(
        data_dir=tmp_path / "data",
        models_dir=models,
        app_db_url=new_pg_database("cds_app"),
        audit_url=new_pg_database("cds_trail"),
        cds_url=PUBLIC_URL,
        # A locally mapped copy: no publisher's signature (docs/bundle-signing.md).
        require_signed_bundles=False,
        cds_issuers_file=write_issuers(tmp_path / "keys", ehr),
    )
    with ExitStack() as stack:
        clients = []
        for _ in range(2):
            runtime = Runtime.from_settings(settings, background=False)
            stack.callback(runtime.close)
            approve_first_versions(runtime.workflow)  # once: the second finds it on record
            base = stack.enter_context(
                cds_server(create_app(runtime, config_from_settings(settings)), free_port())
            )
            clients.append(stack.enter_context(httpx.Client(base_url=base, timeout=60)))
        yield {"clients": clients, "ehr": ehr, "runtime": runtime}


def _post(client: httpx.Client, path: str, body: dict, token: str) -> httpx.Response:
    return client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})


def test_a_jti_accepted_by_one_instance_is_refused_by_the_other(two_instances):
    first, second = two_instances["clients"]
    path = f"/cds-services/{HEART}/feedback"
    token = two_instances["ehr"].token(PUBLIC_URL + path)
    unknown = {
        "feedback": [{"card": "00000000-0000-4000-8000-000000000000", "outcome": "accepted"}]
    }
    accepted = _post(first, path, unknown, token)
    assert accepted.status_code == 404, accepted.text  # accepted, no such card
    replayed = _post(second, path, unknown, token)
    assert replayed.status_code == 401 and "already used" in replayed.json()["error"]


def test_feedback_to_one_instance_finds_the_card_the_other_returned(two_instances):
    first, second = two_instances["clients"]
    ehr, runtime = two_instances["ehr"], two_instances["runtime"]
    inputs = dict(runtime.catalogue.bundles[HEART].demo_cases[0].inputs)
    prefetch = heart_prefetch("p-77", inputs, case_date=dt.datetime.now(dt.UTC).date())
    path = f"/cds-services/{HEART}"
    answer = _post(first, path, hook_request("p-77", prefetch), ehr.token(PUBLIC_URL + path))
    assert answer.status_code == 200, answer.text
    card = answer.json()["cards"][0]
    feedback = {"feedback": [{"card": card["uuid"], "outcome": "accepted"}]}
    sent = _post(second, path + "/feedback", feedback, ehr.token(PUBLIC_URL + path + "/feedback"))
    assert sent.status_code == 200, sent.text
    shown, given = runtime.audit_store.entries()[-2:]
    assert shown.action == "viewed" and shown.detail()["card_uuid"] == card["uuid"]
    assert given.action == "feedback" and given.detail()["entry_seq"] == shown.seq
