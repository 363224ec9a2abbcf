"""``caselens bench cds``: the CDS Hooks service's speed, served by uvicorn on this machine.

A simulated EHR (:mod:`caselens.bench.cds_ehr`) calls a FHIR-mapped copy of the heart-disease
sample with signed, spec-shaped ``patient-view`` requests carrying the prefetch: the hook-to-
card latency (warm: after the first call) one call at a time, then cards per second with
several EHR clients calling at once. Every card is computed, recorded in a fresh audit trail
and returned, exactly as in service.
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from caselens.bench.app import free_port
from caselens.bench.cds_ehr import (
    HEART,
    SimulatedEhr,
    cds_server,
    fhir_test_server,
    heart_prefetch,
    hook_request,
    mapped_heart_disease,
    write_issuers,
)

#: The figure issue 24 sets for a warm card with prefetch on this machine class.
TARGET_P95_MS = 300.0
#: Concurrent EHR clients in the throughput run.
DEFAULT_CLIENTS = 8
#: The simulated EHR's FHIR access token (for the bench's own FHIR server).
FHIR_TOKEN = "bench-fhir-token"


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class _Ehr:
    """One EHR's calls to the service: signed, one fresh token per call."""

    def __init__(self, client: Any, base: str, ehr: SimulatedEhr, bundle: Any) -> None:
        self.client, self.base, self.ehr = client, base, ehr
        # Demo patients with every input recorded: each call gives a probability card.
        self.cases = [
            dict(demo.inputs)
            for demo in bundle.demo_cases
            if all(value is not None for value in demo.inputs.values())
        ]
        self.today = dt.datetime.now(dt.UTC).date()

    def card(self, number: int, *, fhir_server: str | None = None) -> float:
        """One hook-to-card call (a different demo patient each time); its milliseconds.
        With ``fhir_server``, no prefetch: the service reads the record from that server."""
        patient = f"bench-{number % len(self.cases)}"
        inputs = self.cases[number % len(self.cases)]
        prefetch = heart_prefetch(patient, inputs, case_date=self.today)
        body = hook_request(patient, None if fhir_server else prefetch)
        if fhir_server:
            body["fhirServer"] = fhir_server
            body["fhirAuthorization"] = {"access_token": FHIR_TOKEN, "token_type": "Bearer"}
        path = f"/cds-services/{HEART}"
        token = self.ehr.token(self.base + path)
        started = time.perf_counter()
        answer = self.client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
        elapsed = 1000 * (time.perf_counter() - started)
        if answer.status_code != 200 or "uuid" not in answer.json()["cards"][0]:
            raise RuntimeError(f"the service answered {answer.status_code}: {answer.text[:300]}")
        return elapsed


def _throughput(base: str, ehr: SimulatedEhr, bundle: Any, *, clients: int, calls: int) -> float:
    import httpx

    errors: list[BaseException] = []

    def run(offset: int) -> None:
        with httpx.Client(base_url=base, timeout=120) as client:
            caller = _Ehr(client, base, ehr, bundle)
            try:
                for n in range(calls):
                    caller.card(offset * calls + n)
            except BaseException as exc:  # reported below, never swallowed
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"a client failed: {errors[0]}")
    return clients * calls / wall


def _record_resources(bundle: Any, today: dt.date) -> list[dict[str, Any]]:
    """Every bench patient's record, as the EHR's FHIR server holds it."""
    cases = [
        dict(demo.inputs)
        for demo in bundle.demo_cases
        if all(value is not None for value in demo.inputs.values())
    ]
    resources: list[dict[str, Any]] = []
    for number, inputs in enumerate(cases):
        record = heart_prefetch(f"bench-{number}", inputs, case_date=today)
        resources += [record["patient"]] + [e["resource"] for e in record["observation"]["entry"]]
    return resources


def bench_cds(
    *, runs: int = 30, clients: int = DEFAULT_CLIENTS, calls_per_client: int = 5
) -> dict[str, Any]:
    """Warm hook-to-card p50/p95 with prefetch and without it (the service reading the record
    from a FHIR server on this machine), and cards per second with ``clients`` EHR clients
    calling at once (with prefetch)."""
    import httpx
    from starlette.routing import Mount

    from caselens.cds import create_app
    from caselens.cds.rate_limit import IssuerRateLimit
    from caselens.cds.serve import config_from_settings
    from caselens.lifecycle.seed import seed_first_versions
    from caselens.runtime import Runtime
    from caselens.settings import Settings

    with tempfile.TemporaryDirectory(prefix="caselens-bench-cds-") as folder:
        root = Path(folder)
        (root / "models").mkdir()
        mapped_heart_disease(root / "models")
        port, fhir_port = free_port(), free_port()
        fhir_base = f"http://127.0.0.1:{fhir_port}/r4"
        ehr = SimulatedEhr(fhir_servers=(fhir_base,))
        settings = Settings(
            data_dir=root / "data",
            models_dir=root / "models",
            cds_url=f"http://127.0.0.1:{port}",
            # A locally mapped copy: no publisher's signature (docs/bundle-signing.md).
            require_signed_bundles=False,
            cds_issuers_file=write_issuers(root / "keys", ehr),
            app_url="http://127.0.0.1:8501",
        )
        runtime = Runtime.from_settings(settings, background=False)
        # Outside demo mode a model shows no estimate until a version is approved: the
        # bench's copy is approved directly in its own throwaway database (no trail entry).
        seed_first_versions(
            runtime.workflow.lifecycle,
            runtime.catalogue.bundles.values(),
            registered_by="bench",
            approved_by="bench-approver",
        )
        try:
            started = time.perf_counter()
            runtime.explainer(HEART)
            load_s = time.perf_counter() - started
            # The bench measures the service, not the rate limit: one EHR sends it all.
            unlimited = IssuerRateLimit(burst=1_000_000, per_second=1_000_000.0)
            app = create_app(runtime, config_from_settings(settings), rate_limit=unlimited)
            bundle = runtime.catalogue.bundles[HEART]
            today = dt.datetime.now(dt.UTC).date()
            fhir = fhir_test_server(_record_resources(bundle, today), token=FHIR_TOKEN)
            with (
                cds_server(Mount("/r4", fhir), fhir_port),
                cds_server(app, port) as base,
                httpx.Client(base_url=base, timeout=120) as client,
            ):
                caller = _Ehr(client, base, ehr, bundle)
                first_ms = caller.card(0)
                times = [caller.card(n) for n in range(1, runs + 1)]
                fetched = [caller.card(n, fhir_server=fhir_base) for n in range(1, runs + 1)]
                per_second = _throughput(base, ehr, bundle, clients=clients, calls=calls_per_client)
        finally:
            runtime.close()
    p95 = _percentile(times, 0.95)
    return {
        "bench": "cds",
        "model": HEART,
        "model_load_s": round(load_s, 2),
        "first_card_ms": round(first_ms, 1),
        "warm_card_p50_ms": round(statistics.median(times), 1),
        "warm_card_p95_ms": round(p95, 1),
        "target_p95_ms": TARGET_P95_MS,
        "p95_within_target": p95 <= TARGET_P95_MS,
        "without_prefetch_p50_ms": round(statistics.median(fetched), 1),
        "without_prefetch_p95_ms": round(_percentile(fetched, 0.95), 1),
        "runs": runs,
        "clients": clients,
        "cards_per_second": round(per_second, 2),
    }
