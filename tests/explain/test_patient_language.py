"""The patient page in the patient's words and language: curated catalogues, the card's patient
texts per language, a reading measure per language, questions that fit the model's kind, no
language mixing, the account's language through the workflow, and the page's rules (no
reading measure for the patient, a real care-team contact outside demo mode)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app_helpers import audit_entries, shown, signed_in
from caselens.access.accounts import DEMO_ACCOUNTS, AccountError, AccountStore, seed_demo_accounts
from caselens.access.app_database import open_app_database
from caselens.access.model_status import ModelStatusStore
from caselens.audit import AuditStore
from caselens.explain.cases import validate_inputs
from caselens.explain.interval_text import format_interval, printed_ends
from caselens.explain.narrative import patient_summary
from caselens.explain.patient_language import (
    LANGUAGES,
    LOCALES_DIR,
    READING_RULES,
    Catalogue,
    blanks,
    catalogue,
    measure_reading,
    missing_patient_texts,
)
from caselens.explain.report import CaseExplainer, CaseReport, displayed_text, in_patient_language
from caselens.model.bundle import BundleCatalogue
from caselens.settings import SAMPLE_MODELS_DIR
from caselens.workflow.door import UserSession, Workflow
from lifecycle_fixtures import approve_first_versions

ROOT = Path(__file__).resolve().parents[2]
#: Files whose literal ``say("…")`` / ``catalogue(…)("…")`` messages must be in every catalogue.
SPEAKING_FILES = (
    ROOT / "src/caselens/explain/patient_summary.py",
    ROOT / "src/caselens/workflow/reports.py",
    ROOT / "app/components/patient_view.py",
    ROOT / "app/streamlit_app.py",
)
OTHER_LANGUAGES = [lang for lang in LANGUAGES if lang != "en"]


def _messages_in_code() -> set[str]:
    """Every string literal passed first to ``say(...)`` or ``catalogue(x)(...)``."""
    found: set[str] = set()
    for path in SPEAKING_FILES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            speaks = (isinstance(func, ast.Name) and func.id == "say") or (
                isinstance(func, ast.Call)
                and isinstance(func.func, ast.Name)
                and func.func.id == "catalogue"
            )
            first = node.args[0]
            if speaks and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
    return found


def _english_messages() -> set[str]:
    return _messages_in_code() | {
        # Limitation texts, translated by their English wording (caselens.explain.limitations).
        "This is a test tool. Your care team does not use it to make choices about your care.",
        "The tool has not been checked again on time.",
    }


# -- catalogues ---------------------------------------------------------------------------------


def test_the_code_speaks_through_the_catalogue_in_many_places():
    messages = _messages_in_code()
    assert len(messages) > 40, len(messages)  # the scan finds the page's sentences
    assert "About {count} out of 100 people like you {outcome}." in messages
    assert "My result" in messages and "Sign out" in messages


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_every_message_the_code_uses_is_curated_in_every_language(language):
    say = Catalogue(language)
    missing = sorted(m for m in _english_messages() if m not in say.messages())
    assert not missing, missing
    for message, text in say.messages().items():
        assert blanks(text) == blanks(message), (message, text)  # every blank kept
        assert text.strip() and (text != message or message == "patient"), (message, text)


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_catalogue_files_hold_no_fuzzy_or_empty_entry(language):
    path = LOCALES_DIR / language / "LC_MESSAGES" / "patient.po"
    with path.open("rb") as handle:
        parsed = read_po(handle, locale=language)
    entries = [m for m in parsed if m.id]
    assert entries and all(m.string and not m.fuzzy for m in entries)
    assert parsed.locale is not None and str(parsed.locale) == language


def test_a_message_missing_from_a_catalogue_is_refused_not_shown_in_english():
    with pytest.raises(Exception, match="Español catalogue has no curated text"):
        catalogue("es")("A sentence nobody translated.")
    assert catalogue("en")("A sentence nobody translated.") == "A sentence nobody translated."


def test_an_unknown_language_is_refused_naming_the_choices():
    with pytest.raises(Exception, match=r"language: expected one of en, es, fr, got 'de'"):
        catalogue("de")


# -- reading measures ---------------------------------------------------------------------------


def test_each_language_is_measured_by_its_own_formula_and_direction():
    easy_es = "Su resultado es bueno. Hable con su equipo."
    hard_es = (
        "La caracterización epidemiológica multifactorial de la insuficiencia cardiovascular "
        "congestiva constituye una problemática extraordinariamente compleja."
    )
    easy, hard = measure_reading(easy_es, "es"), measure_reading(hard_es, "es")
    assert easy.measure == "Fernández-Huerta reading ease" and easy.easier_above
    assert easy.score > hard.score and easy.within_limit and not hard.within_limit
    french = measure_reading("Votre résultat est bon. Parlez à votre équipe.", "fr")
    assert french.measure == "Kandel–Moles reading ease" and french.within_limit
    english = measure_reading("Your result is good. Talk with your team.", "en")
    assert not english.easier_above and english.within_limit
    assert set(READING_RULES) == set(LANGUAGES)


# -- ranges -------------------------------------------------------------------------------------


@given(
    st.floats(min_value=0, max_value=1, allow_nan=False),
    st.floats(min_value=0, max_value=1, allow_nan=False),
    st.floats(min_value=0, max_value=1, allow_nan=False),
)
def test_a_range_in_people_out_of_100_holds_the_estimate_and_its_ends(a, b, c):
    low, p, high = sorted((a, b, c))
    ends = printed_ends(low, high, style="whole_people")
    assert ends is not None
    assert all(isinstance(end, int) for end in ends)
    assert 0 <= ends[0] < ends[1] <= 100  # the ends always differ
    assert ends[0] <= 100 * low + 1e-9 and 100 * high - 1e-9 <= ends[1]
    assert ends[0] <= 100 * p <= ends[1]
    # One rule for both screens: the clinician's wording of it names the same ends.
    assert format_interval(low, high, style="whole_people") == (
        f"between {ends[0]} and {ends[1]} out of 100"
    )


# -- the patient text over every demo case -------------------------------------------------------


@pytest.fixture(scope="module")
def demo_reports(sample_bundles) -> dict[str, list[tuple[object, CaseReport]]]:
    """English reports of every demo case of both samples (fewer LIME runs: the patient text
    depends on SHAP, the probability and the limitations)."""
    out = {}
    for model_id, bundle in sample_bundles.items():
        explainer = CaseExplainer(bundle, lime_runs=2, lime_samples=200)
        out[model_id] = [
            (
                bundle,
                explainer.explain(
                    validate_inputs(d.inputs, bundle.features, source="demo", case_id=d.case_id)
                ),
            )
            for d in bundle.demo_cases
        ]
    return out


def _all(demo_reports):
    return [pair for pairs in demo_reports.values() for pair in pairs]


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_reading_measure_of_every_demo_case_in_every_language(demo_reports, language):
    checked = 0
    for bundle, report in _all(demo_reports):
        patient = in_patient_language(report, bundle, language).narrative.patient
        assert patient.available and patient.language == language
        again = measure_reading(patient.full_text(), language)
        assert patient.reading == again  # the stored measure is the text's own
        assert again.within_limit, (report.case.case_id, again.describe(), patient.full_text())
        if language == "en":
            assert patient.reading_grade == again.score <= 8.0
        checked += 1
    assert checked == sum(len(b.demo_cases) for b, _ in (p[0] for p in demo_reports.values()))


def _english_card_words(bundle) -> set[str]:
    texts = bundle.card.patient_texts["en"]
    words = {texts.outcome, *texts.questions}
    for _name, spec in texts.inputs.items():
        words.add(spec.label)
        words |= {v for k, v in spec.values.items() if len(v) > 3 and v.lower() != k.lower()}
    return {w for w in words if w not in {"normal"}}


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_a_patient_text_in_another_language_mixes_in_no_english(demo_reports, language):
    english_sentences = {m.split("{")[0].strip() for m in _english_messages()}
    english_sentences = {s for s in english_sentences if len(s) > 12}
    for bundle, report in _all(demo_reports):
        text = in_patient_language(report, bundle, language).narrative.patient.full_text()
        for sentence in english_sentences:
            assert sentence not in text, (language, sentence)
        for word in _english_card_words(bundle):
            assert word not in text, (language, word, text)
        assert not re.search(r"\b(the|and|you|your|people|with)\b", text), text


def test_factor_sentences_use_the_cards_patient_words_not_clinical_terms(demo_reports):
    clinical = ("ST depression", "Reversible defect", "Fixed defect", "angina", "fluoroscopy")
    named_st = 0
    for bundle, report in demo_reports["heart-disease"]:
        patient = report.narrative.patient
        for term in clinical:
            assert term.lower() not in patient.full_text().lower(), (term, patient.full_text())
        value = report.case.values()["st_depression"]
        for phrase in (*patient.factors_higher, *patient.factors_lower):
            if phrase.startswith("Change in the heart tracing during exercise"):
                named_st += 1
                assert phrase == f"Change in the heart tracing during exercise ({value:g} mm)"
            if phrase.startswith("Heart scan result"):
                words = bundle.card.patient_texts["en"].inputs["thallium_test"].values
                assert (
                    phrase == f"Heart scan result ({words[report.case.values()['thallium_test']]})"
                )
    assert named_st > 0  # the demo cases do name it, so the wording was checked


def test_spanish_factors_carry_the_patients_value_written_the_spanish_way(demo_reports):
    for bundle, report in demo_reports["heart-disease"]:
        patient = in_patient_language(report, bundle, "es").narrative.patient
        value = report.case.values()["st_depression"]
        for phrase in (*patient.factors_higher, *patient.factors_lower):
            if phrase.startswith("Cambio en el trazado del corazón"):
                assert f"({f'{value:g}'.replace('.', ',')} mm)" in phrase, phrase


def test_a_range_is_shown_whenever_the_report_has_one(demo_reports):
    for bundle, report in _all(demo_reports):
        confidence = report.confidence
        ends = None
        if confidence.range_low is not None and confidence.range_high is not None:
            ends = printed_ends(confidence.range_low, confidence.range_high, style="whole_people")
        for language in LANGUAGES:
            patient = in_patient_language(report, bundle, language).narrative.patient
            if ends is None:
                assert patient.range_low_out_of_100 is None
                continue
            assert (patient.range_low_out_of_100, patient.range_high_out_of_100) == ends
            assert ends[0] != ends[1]
            assert f"{ends[0]}" in patient.range_sentence
            assert f"{ends[1]}" in patient.range_sentence


def test_the_picture_has_a_text_alternative_that_counts_the_filled_figures(demo_reports):
    for bundle, report in _all(demo_reports):
        for language in LANGUAGES:
            patient = in_patient_language(report, bundle, language).narrative.patient
            outcome = bundle.card.patient_texts[language].outcome
            numbers = re.findall(r"\b\d+\b", patient.picture_text.replace(outcome, ""))
            assert numbers == ["100", str(patient.out_of_100), str(100 - patient.out_of_100)]
            assert patient.picture_text in displayed_text(
                in_patient_language(report, bundle, language), "patient"
            )


# -- cards without texts, and the model's kind ----------------------------------------------------


def _summary(report: CaseReport, bundle, card, language: str):
    return patient_summary(
        report.confidence,
        report.attributions,
        report.limitations,
        card,
        bundle.features,
        values=report.case.values(),
        language=language,
    )


def test_a_model_without_texts_in_a_language_says_so_in_that_language(demo_reports):
    bundle, report = demo_reports["readmission-30d"][0]
    english_only = bundle.card.model_copy(
        update={"patient_texts": {"en": bundle.card.patient_texts["en"]}}
    )
    for language in OTHER_LANGUAGES:
        patient = _summary(report, bundle, english_only, language)
        assert not patient.available and patient.language == language
        assert patient.headline == catalogue(language)(
            "Your result cannot be shown in your language yet. The tool has no texts in "
            "your language."
        )
        assert LANGUAGES[language].lower() in patient.headline.lower()
        assert not patient.factors_higher and not patient.factors_lower
        text = patient.full_text()
        assert "hospital within 30 days" not in text and "people like you" not in text
        assert measure_reading(text, language) == patient.reading
    # A card missing one word a patient's factor needs is not filled in with English either.
    texts = bundle.card.patient_texts["es"]
    named = {*report.narrative.patient.factors_higher, *report.narrative.patient.factors_lower}
    assert named
    gap = texts.model_copy(update={"inputs": {}})
    holed = bundle.card.model_copy(update={"patient_texts": {"es": gap}})
    assert not _summary(report, bundle, holed, "es").available


def test_bundle_check_lists_what_a_patient_facing_card_lacks(sample_bundles):
    bundle = sample_bundles["heart-disease"]
    assert missing_patient_texts(bundle.card, bundle.features) == []
    texts = bundle.card.patient_texts["fr"]
    inputs = dict(texts.inputs)
    del inputs["age"]
    thallium = inputs["thallium_test"]
    inputs["thallium_test"] = thallium.model_copy(update={"values": {"Normal": "normal"}})
    inputs["resting_bp"] = inputs["resting_bp"].model_copy(update={"unit": None})
    card = bundle.card.model_copy(
        update={
            "model_kind": None,
            "patient_texts": {"fr": texts.model_copy(update={"inputs": inputs, "questions": ()})},
        }
    )
    gaps = missing_patient_texts(card, bundle.features)
    assert "patient_texts.fr.inputs.age: missing" in gaps
    assert "patient_texts.fr.inputs.thallium_test.values['Reversible defect']" in gaps
    assert "patient_texts.fr.inputs.resting_bp.unit" in gaps
    assert any(g.startswith("patient_texts.fr.questions") for g in gaps)
    assert any(g.startswith("model_kind") for g in gaps)
    bare = bundle.card.model_copy(update={"patient_texts": {}})
    assert any(
        g.startswith("patient_texts: none") for g in missing_patient_texts(bare, bundle.features)
    )


@pytest.mark.parametrize(
    ("kind", "fits", "does_not_fit"),
    [
        ("diagnostic", "Which test would tell us for sure?", "What can I do to lower my chance?"),
        ("prognostic", "What can I do to lower my chance?", "Which test would tell us for sure?"),
        (None, "What happens next?", "What can I do to lower my chance?"),
    ],
)
def test_questions_without_card_questions_fit_the_models_kind(
    demo_reports, kind, fits, does_not_fit
):
    bundle, report = demo_reports["heart-disease"][0]
    texts = bundle.card.patient_texts["en"].model_copy(update={"questions": ()})
    card = bundle.card.model_copy(update={"model_kind": kind, "patient_texts": {"en": texts}})
    patient = _summary(report, bundle, card, "en")
    assert fits in patient.questions and does_not_fit not in patient.questions
    caveat = patient.does_not_mean[0]
    if kind == "diagnostic":
        assert caveat == "This number does not say for sure whether you have it."
    else:
        assert caveat == "This number does not say what will happen to you."


def test_the_cards_own_questions_are_asked_in_the_patients_language(demo_reports):
    bundle, report = demo_reports["heart-disease"][0]
    for language in LANGUAGES:
        patient = in_patient_language(report, bundle, language).narrative.patient
        assert patient.questions == bundle.card.patient_texts[language].questions
    assert bundle.card.model_kind == "diagnostic"
    assert report.narrative.patient.does_not_mean[0].endswith("whether you have it.")


def test_a_report_in_another_language_keeps_every_number_and_replays_the_same(demo_reports):
    bundle, report = demo_reports["heart-disease"][2]
    spanish = in_patient_language(report, bundle, "es")
    assert spanish.report_id != report.report_id
    assert spanish.confidence == report.confidence and spanish.attributions == report.attributions
    assert spanish.narrative.clinician_summary == report.narrative.clinician_summary
    stored = CaseReport.from_json(spanish.to_json())
    assert stored == spanish and displayed_text(stored, "patient") == displayed_text(
        spanish, "patient"
    )
    assert in_patient_language(spanish, bundle, "es") is spanish


# -- accounts -------------------------------------------------------------------------------------


def test_an_accounts_language_defaults_to_english_and_is_checked(tmp_path):
    store = AccountStore(open_app_database(tmp_path))
    assert store.add("pat.a", name="A", role="patient", password="x" * 12, patient_ref="R-1")
    assert store.get("pat.a").language == "en"
    assert (
        store.add(
            "pat.b", name="B", role="patient", password="x" * 12, patient_ref="R-2", language="fr"
        ).language
        == "fr"
    )
    with pytest.raises(AccountError, match=r"language: expected one of en, es, fr, got 'xx'"):
        store.add(
            "pat.c", name="C", role="patient", password="x" * 12, patient_ref="R", language="xx"
        )
    assert "pat.c" not in {a.user_id for a in store.list()}  # nothing half-made
    assert store.set_language("pat.a", "es").language == "es"
    assert {a.user_id: a.language for a in store.list()} == {"pat.a": "es", "pat.b": "fr"}
    with pytest.raises(AccountError, match="language"):
        store.set_language("pat.a", "klingon")


def test_a_database_from_before_languages_reads_every_account_as_english(tmp_path):
    import sqlite3

    store = AccountStore(open_app_database(tmp_path))
    store.add("dr.old", name="Old", role="clinician", password="x" * 12)
    database = next(tmp_path.glob("*.sqlite"))
    with sqlite3.connect(database) as conn:  # as an older version left it: no table at all
        conn.execute("DROP TABLE account_languages")
    again = AccountStore(open_app_database(tmp_path))
    assert again.get("dr.old").language == "en"
    assert again.set_language("dr.old", "es").language == "es"


def test_the_spanish_demo_patient_is_seeded_with_spanish(tmp_path):
    store = AccountStore(open_app_database(tmp_path))
    seed_demo_accounts(store)
    spanish = [a for a in DEMO_ACCOUNTS if a.get("language") == "es"]
    assert [a["user_id"] for a in spanish] == ["pat.r06.es"]
    assert store.get("pat.r06.es").language == "es"
    assert store.get("pat.r01").language == "en"


# -- the workflow: the account's language, recorded ------------------------------------------------


@pytest.fixture()
def workflow(tmp_path, sample_bundles):
    engine = open_app_database(tmp_path)
    accounts = AccountStore(engine)
    seed_demo_accounts(accounts)
    key = b"k" * 32
    audit = AuditStore.open(tmp_path / "trail.sqlite", key=key)
    explainers = {
        m: CaseExplainer(b, lime_runs=2, lime_samples=200) for m, b in sample_bundles.items()
    }
    built = Workflow(
        audit=audit,
        accounts=accounts,
        statuses=ModelStatusStore(engine),
        catalogue=BundleCatalogue(bundles=dict(sample_bundles), refused={}),
        explainer=explainers.__getitem__,
        audit_key=key,
    )
    approve_first_versions(built)
    built.trail = audit
    yield built
    audit.close()


def _session(workflow, user_id):
    session = UserSession()
    workflow.sign_in(session, user_id, "caselens-demo")
    return session


def test_a_patient_sees_their_accounts_language_and_the_entry_records_it(workflow):
    report = workflow.show_my_result(_session(workflow, "pat.r06.es"))
    patient = report.narrative.patient
    assert (patient.language, patient.available, report.case.case_id) == ("es", True, "R-06")
    assert patient.headline.startswith("Alrededor de ")
    entry = workflow.trail.entries()[-1]
    assert (entry.action, entry.audience) == ("patient_viewed", "patient")
    assert entry.detail()["language"] == "es"
    stored = CaseReport.from_json(entry.report_json)
    assert stored.report_id == report.report_id
    assert stored.narrative.patient.full_text() == patient.full_text()

    english = workflow.show_my_result(_session(workflow, "pat.r01"))
    assert english.narrative.patient.language == "en"


def test_a_clinician_previews_the_patient_text_in_a_chosen_language(workflow):
    session = _session(workflow, "dr.lee")
    bundle = workflow.bundle("heart-disease")
    demo = bundle.demo_case("H-03")
    case = validate_inputs(demo.inputs, bundle.features, source="demo")
    report = workflow.show_report(session, "heart-disease", case, patient_ref="H-03")
    french = workflow.preview_patient_view(session, report, language="fr")
    assert french.narrative.patient.language == "fr"
    assert french.probability == report.probability
    entry = workflow.trail.entries()[-1]
    assert (entry.action, entry.detail()["language"]) == ("previewed", "fr")
    with pytest.raises(Exception, match="language: expected one of"):
        workflow.preview_patient_view(session, report, language="xx")
    assert workflow.trail.entries()[-1].seq == entry.seq  # a refused preview records nothing


# -- the app -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("app_env")
def test_the_spanish_demo_patient_reads_their_page_in_spanish_without_the_reading_measure():
    at = signed_in("pat.r06.es")
    assert not at.exception, at.exception
    assert at.title[0].value == "Mi resultado"
    text = shown([*at.markdown, *at.caption])
    assert "Alrededor de" in text and "de cada 100 personas como usted" in text
    assert "Dibujo de 100 personas" in text  # the picture's text alternative
    assert "Este es un contacto de prueba" in text or "Esto es una demostración" in text
    assert "Reading level" not in text and "Fernández-Huerta" not in text
    for english in ("out of 100", "people like you", "care team", "What this does not mean"):
        assert english not in text, english
    last = audit_entries()[-1]
    assert (last.action, last.actor_id) == ("patient_viewed", "pat.r06.es")


@pytest.mark.usefixtures("app_env")
def test_the_reading_measure_is_in_the_clinicians_preview_only():
    patient = signed_in("pat.h03")
    assert "Reading level" not in shown([*patient.markdown, *patient.caption])
    clinician = signed_in("dr.lee")
    clinician = clinician.toggle(key="case_patient_preview").set_value(True).run()
    assert not clinician.exception, clinician.exception
    assert "Reading level of this page (en): Flesch–Kincaid grade" in shown(clinician.caption)
    clinician = clinician.selectbox(key="case_patient_preview_language").set_value("es").run()
    assert "Reading level of this page (es): Fernández-Huerta reading ease" in shown(
        clinician.caption
    )


@pytest.mark.usefixtures("app_env")
def test_outside_demo_mode_a_patient_page_needs_a_real_care_team_contact(monkeypatch):
    monkeypatch.delenv("CASELENS_CARE_TEAM_CONTACT", raising=False)
    # Sign in while the demo accounts exist, then run as a deployment would.
    at = signed_in("pat.h03")
    before = len([e for e in audit_entries() if e.action == "patient_viewed"])
    monkeypatch.delenv("CASELENS_DEMO")
    # A deployment requires signed bundles; this one trusts the samples' publisher key.
    monkeypatch.setenv(
        "CASELENS_TRUSTED_BUNDLE_KEYS", str(SAMPLE_MODELS_DIR / "demo-publisher.pub.pem")
    )
    at = at.run()
    assert "no care-team contact is set" in shown(at.error)
    assert "CASELENS_CARE_TEAM_CONTACT" in shown(at.error)
    assert not any("out of 100 people like you" in m.value for m in at.markdown)
    assert len([e for e in audit_entries() if e.action == "patient_viewed"]) == before

    monkeypatch.setenv("CASELENS_CARE_TEAM_CONTACT", "Call the heart clinic: 555-0100, 8am-6pm.")
    at = at.run()
    text = shown(at.markdown)
    assert "Call the heart clinic: 555-0100" in text
    assert "demonstration contact" not in text and not at.error


@pytest.mark.usefixtures("app_env")
def test_in_demo_mode_the_contact_is_said_to_be_a_demonstration(monkeypatch):
    monkeypatch.setenv("CASELENS_CARE_TEAM_CONTACT", "Demo desk: 555-0199.")
    text = shown(signed_in("pat.h03").markdown)
    assert "Demo desk: 555-0199. This is a demonstration contact, not a real care team." in text
    monkeypatch.delenv("CASELENS_CARE_TEAM_CONTACT")
    text = shown(signed_in("pat.h03").markdown)
    assert "This is a demonstration. There is no real care team to contact." in text
    assert "Ask the clinic or hospital" not in text  # the old circular sentence is gone


_WORDS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30
).filter(str.strip)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(label=_WORDS, value_words=_WORDS, unit=_WORDS, outcome=_WORDS)
def test_any_words_a_card_gives_are_used_as_written_in_their_language(
    demo_reports, label, value_words, unit, outcome
):
    """Card texts are data from outside: whatever they say (braces, markup, any script) is
    put into the patient text as written, each factor phrase naming its own label and value."""
    bundle, report = demo_reports["heart-disease"][2]
    texts = bundle.card.patient_texts["es"]
    inputs = {
        name: words.model_copy(
            update={
                "label": f"{label} {name}",
                "values": {k: value_words for k in words.values},
                "unit": unit if words.unit else words.unit,
            }
        )
        for name, words in texts.inputs.items()
    }
    card = bundle.card.model_copy(
        update={
            "patient_texts": {"es": texts.model_copy(update={"inputs": inputs, "outcome": outcome})}
        }
    )
    patient = _summary(report, bundle, card, "es")
    assert patient.available
    assert (
        patient.headline
        == f"Alrededor de {patient.out_of_100} de cada 100 personas como usted {outcome}."
    )
    phrases = [*patient.factors_higher, *patient.factors_lower]
    assert phrases
    values = report.case.values()
    for phrase in phrases:
        name = next(n for n in inputs if phrase.startswith(f"{label} {n} ("))
        spec = bundle.features[name]
        if spec.kind == "category":
            assert phrase == f"{label} {name} ({value_words})"
        else:
            assert phrase.endswith(f" {unit})") or not inputs[name].unit, phrase
            assert (
                f"({f'{float(values[name]):g}'.replace('.', ',')}" in phrase
                or spec.kind == "integer"
            )


def test_an_admin_adds_a_patient_who_reads_french_and_the_cli_offers_every_language(workflow):
    from caselens.cli.users import users_add

    admin = _session(workflow, "admin")
    account = workflow.add_user(
        admin,
        "pat.fr",
        name="Camille",
        role="patient",
        password="x" * 12,
        patient_ref="H-05",
        patient_model_id="heart-disease",
        language="fr",
    )
    assert account.language == "fr"
    assert workflow.trail.entries()[-1].detail()["language"] == "fr"
    with pytest.raises(Exception, match="language: expected one of"):
        workflow.add_user(
            admin,
            "pat.x",
            name="X",
            role="patient",
            password="x" * 12,
            patient_ref="H-06",
            language="pt",
        )
    assert [e.detail().get("user_id") for e in workflow.trail.entries()].count("pat.x") == 0
    report = workflow.show_my_result(_session_with(workflow, "pat.fr", "x" * 12))
    assert report.narrative.patient.language == "fr"
    assert report.narrative.patient.headline.startswith("Sur 100 personnes comme vous")
    option = next(p for p in users_add.params if p.name == "language")
    assert list(option.type.choices) == list(LANGUAGES)


def _session_with(workflow, user_id, password):
    session = UserSession()
    workflow.sign_in(session, user_id, password)
    return session
