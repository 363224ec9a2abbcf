"""``caselens bundle check --deep`` copy-checks every sentence of every demo case: a sample
bundle passes; a card whose words make a bad sentence fails, naming the case and sentence."""

from __future__ import annotations

import json

from click.testing import CliRunner

from caselens.cli.main import main
from caselens.explain.copy_check import demo_case_copy_problems
from caselens.model.bundle import CARD_FILE, load_bundle

#: Reference rows for the honesty part of --deep: all 61 of the heart-disease sample (a small
#: sample can put a limitation over its rate cap by chance); the copy check reads demo cases.
ROWS = "61"
#: A patient wording that leaves the headline hanging: "... like you have heart trouble and."
DANGLING_WORDING = "have narrowed heart arteries and"


def test_a_sample_bundle_passes_the_copy_check_of_every_demo_case(heart_bundle):
    result = CliRunner().invoke(
        main, ["bundle", "check", str(heart_bundle.path), "--deep", "--rows", ROWS]
    )
    assert result.exit_code == 0, result.output
    cases = len(heart_bundle.demo_cases)
    assert cases > 0
    assert "Copy check of heart-disease: " in result.output
    assert f"texts of {cases} demo cases" in result.output
    assert "every sentence passes." in result.output


def _dangling_card(folder) -> None:
    card = json.loads((folder / CARD_FILE).read_text(encoding="utf-8"))
    card["patient_texts"]["en"]["outcome"] = DANGLING_WORDING
    (folder / CARD_FILE).write_text(json.dumps(card), encoding="utf-8")


def test_a_card_text_that_makes_a_bad_sentence_fails_naming_case_and_sentence(bundle_copy):
    folder = bundle_copy()
    _dangling_card(folder)
    result = CliRunner().invoke(main, ["bundle", "check", str(folder), "--deep", "--rows", ROWS])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "Copy check of heart-disease" in result.output and "FAILED" in result.output
    slips = [line.strip() for line in result.output.splitlines() if "a sentence ending on" in line]
    bundle = load_bundle(folder)
    # Every demo case's patient headline ends on 'and', and each is named with its sentence.
    for demo in bundle.demo_cases:
        named = [s for s in slips if s.startswith(f"{demo.case_id}, patient page: ")]
        assert named, (demo.case_id, result.output)
        assert any(f"{DANGLING_WORDING}.'" in s for s in named), named


def test_the_check_names_the_sentence_not_the_whole_text(bundle_copy):
    folder = bundle_copy()
    _dangling_card(folder)
    check = demo_case_copy_problems(load_bundle(folder))
    assert not check.ok and check.cases == len(load_bundle(folder).demo_cases)
    dangling = [p for p in check.problems if "ending on 'and'" in p.problem]
    assert dangling
    for problem in dangling:
        assert problem.text_name == "patient page"
        assert problem.sentence.endswith(f"{DANGLING_WORDING}.")  # one sentence, whole
        assert len(problem.sentence) < 120
        assert str(problem).startswith(f"{problem.case_id}, patient page: ")
    # The headline of each demo case is among them, named by its own words.
    headlines = {p.case_id for p in dangling if p.sentence.startswith("About ")}
    assert headlines == {d.case_id for d in load_bundle(folder).demo_cases}
