"""The governance report: a self-contained HTML file of the monitoring figures, alerts and
clinician use, recorded when produced, labelled when simulated, and showing any text from
outside CaseLens as text, never as markup."""

from __future__ import annotations

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from caselens.audit import AuditStore, default_key_file, default_location, load_key
from caselens.cli.main import main
from caselens.monitoring.alerts import record_alerts
from caselens.monitoring.governance_report import select_periods
from monitoring_fixtures import heart_case, psi_alert, signed_in, trail_path, workflow

__all__ = ["trail_path", "workflow"]  # fixtures used by name below
HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "table", "caption",
    "tr", "th", "td", "figure", "figcaption", "svg", "line", "circle", "polyline", "text",
}  # fmt: skip


def _no_markup_from_data(text: str) -> None:
    """Only the report's own tags; no event handler, link or source anywhere."""
    from html.parser import HTMLParser

    seen: list[tuple[str, list]] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag, attrs):
            seen.append((tag, attrs))

    Tags().feed(text)
    assert {tag for tag, _ in seen} <= ALLOWED_TAGS, {tag for tag, _ in seen} - ALLOWED_TAGS
    names = {name for _, attrs in seen for name, _ in attrs}
    assert not [n for n in names if n.startswith("on") or n in ("src", "href", "srcdoc")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # shown as text


def test_the_report_holds_the_figures_alerts_and_feedback_and_is_recorded(workflow):
    clinician = signed_in(workflow, "dr.lee")
    report = workflow.show_report(
        clinician, "heart-disease", heart_case(workflow), patient_ref="H-01"
    )
    workflow.give_feedback(clinician, report, verdict="I agree", comment=HOSTILE)
    view = workflow.monitoring_view(signed_in(workflow, "rev.kim"), "heart-disease")
    [month] = [f.period for f in view.figures]
    live = psi_alert("heart-disease", month, f"{month}: drift {HOSTILE}")
    record_alerts(workflow.trail, [live])
    reviewer = signed_in(workflow, "rev.kim")
    before = len(workflow.trail.entries())
    built = workflow.monitoring_report(reviewer, "heart-disease")
    text = built.data.decode("utf-8")
    assert (
        built.mime == "text/html"
        and built.file_name == f"heart-disease-monitoring-{month}-to-{month}.html"
    )
    assert text.startswith("<!DOCTYPE html>") and "SIMULATED" not in text
    assert "Monitoring report: " in text and "Kim Okafor (reviewer)" in text
    assert "<h2>Alerts</h2>" in text and live.alert_id in text
    assert f"<td>{live.alert_id}</td><td>yes</td>" in text  # recorded
    assert "<svg" in text and "Every figure" in text and "Input drift per variable" in text
    assert "How clinicians used it" in text and "Limitations shown" in text
    _no_markup_from_data(text)
    entries = workflow.trail.entries()
    assert len(entries) == before + 1
    assert entries[-1].action == "exported" and entries[-1].actor_id == "rev.kim"
    assert entries[-1].detail() == {
        "kind": "monitoring_report",
        "model_id": "heart-disease",
        "simulated_run": None,
        "periods": [month, month],
        "alerts": 1,
    }


def test_periods_outside_the_range_are_left_out():
    class P:
        def __init__(self, period: str) -> None:
            self.period = period

    chosen = select_periods([P("2026-01"), P("2026-02"), P("2026-03")], "2026-02", "2026-03")
    assert [p.period for p in chosen] == ["2026-02", "2026-03"]
    assert [p.period for p in select_periods([P("2026-01")], None, None)] == ["2026-01"]


def test_the_command_writes_a_simulated_report_labelled_simulated(tmp_path, monkeypatch):
    monkeypatch.setenv("CASELENS_DATA_DIR", str(tmp_path / "data"))
    for name in ("CASELENS_AUDIT_URL", "CASELENS_AUDIT_KEY", "CASELENS_MODELS_DIR"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    args = ["--model", "readmission-30d", "--months", "3", "--per-month", "300"]
    simulated = runner.invoke(main, ["monitor", "simulate", *args, "--shift", "calibration@3"])
    assert simulated.exit_code == 0, simulated.output
    run_id = simulated.output.split()[2].rstrip(":")
    months = simulated.output.split(" over ")[1].split(" (")[0].split(", ")
    out = tmp_path / "report.html"
    command = ["monitor", "report", "--model", "readmission-30d", "--simulated", run_id]
    done = runner.invoke(main, [*command, "--from", months[1], "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert done.output.startswith(f"Wrote {out} (SIMULATED): 2 period(s)")
    text = out.read_text("utf-8")
    assert text.count("SIMULATED DATA (run ") == 2  # at the top and at the end
    assert "<title>SIMULATED — " in text and months[0] not in text.split("<h2>Figures")[1]
    assert "a simulated run has none: nobody saw it" in text
    # Each reported month's subgroup table: intervals, small groups said, largest gaps.
    for month in months[1:]:
        assert f"<caption>Subgroups in {month}. 95% intervals: Wilson for" in text
        assert f"<caption>Largest gap between groups in {month} (higher minus lower" in text
    assert "<td>fewer than 10 patients</td>" in text
    assert f"Subgroups in {months[0]}" not in text
    again = runner.invoke(main, [*command, "--out", str(out)])
    assert again.exit_code == 1 and "already exists" in again.output
    with AuditStore.open(default_location(), key=load_key(default_key_file())) as store:
        exported = [e for e in store.entries() if e.action == "exported"]
    assert len(exported) == 1 and exported[0].detail()["simulated_run"] == run_id


def _content(bundle, plan, *, name: str, message: str, generated_by: str = "Kim Okafor"):
    """A report of two simulated months of ``bundle`` (figures from memory, no trail), with
    one alert whose message is ``message``, under the model name ``name``."""
    import datetime as dt

    from caselens.monitoring.figures import build_profile
    from caselens.monitoring.governance_report import ReportContent
    from caselens.monitoring.simulate import simulate_months, simulated_figures

    sim = simulate_months(bundle, months=2, per_month=120, seed=7)
    figures = simulated_figures(sim, build_profile(bundle, plan), plan, run_id="r1")
    alert = psi_alert(bundle.model_id, figures[-1].period, message, run_id="r1")
    return ReportContent(
        model_id=bundle.model_id,
        model_name=name,
        model_version=bundle.version,
        plan=plan,
        figures=tuple(figures),
        alerts=(alert,),
        recorded_alerts=frozenset(),
        watches=(),
        feedback=(),
        limitations=(),
        simulated_run="r1",
        generated_at=dt.datetime(2026, 7, 1, 9, 30, tzinfo=dt.UTC),
        generated_by=generated_by,
    )


def test_hostile_model_name_alert_message_and_names_are_shown_as_text(heart_bundle):
    from caselens.model.monitoring_plan import plan_for
    from caselens.monitoring.governance_report import render_governance_report

    content = _content(
        heart_bundle,
        plan_for(heart_bundle),
        name=f"Heart {HOSTILE}",
        message=f"drift {HOSTILE}",
        generated_by=f"Eve {HOSTILE}",
    )
    text = render_governance_report(content)
    _no_markup_from_data(text)
    assert "<script" not in text and 'onerror="' not in text
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&#34;alert(2)&#34;&gt;"
    assert f"<title>SIMULATED — Monitoring report: Heart {escaped} (" in text
    assert f"<h1>SIMULATED — Monitoring report: Heart {escaped}</h1>" in text
    assert f"<td>drift {escaped}</td>" in text and f"by Eve {escaped} (recorded" in text
    # The figures are in it, drawn from the same periods the page shows.
    assert text.count("<figure>") == 4 and text.count("<svg") == 4
    for f in content.figures:
        assert f"<td>{f.period}</td><td>{f.displays}</td><td>{f.predictions}</td>" in text
    assert f"<td>{content.alerts[0].alert_id}</td><td>not yet: run caselens monitor check" in text


def test_intervals_are_labelled_with_the_plans_confidence_level(heart_bundle):
    from caselens.model.monitoring_plan import MonitoringPlan
    from caselens.monitoring.governance_report import render_governance_report

    for confidence, level in ((0.95, "95%"), (0.9, "90%"), (0.975, "97.5%")):
        plan = MonitoringPlan(confidence=confidence)
        content = _content(heart_bundle, plan, name="Heart", message="drift")
        text = render_governance_report(content)
        assert f"its {level} interval.</p>" in text, confidence
        assert f"<caption>Every figure, value ({level} interval)</caption>" in text
        others = {"95%", "90%", "97.5%", "98%"} - {level}
        assert not [o for o in others if f"{o} interval" in text], confidence
        # The intervals in the table are those computed at the plan's level.
        auroc = content.figures[-1].performance.auroc
        assert f"{auroc.value:.3f} ({auroc.low:.3f}–{auroc.high:.3f})" in text


#: Pieces of markup mixed into the generated texts (plain random text seldom holds a tag).
MARKUP = ("<script>", "</td>", "<img src=x onerror=alert(1)>", "&amp;", "&#34;", "'", '"', "-->")
OUTSIDE_TEXT = st.lists(st.one_of(st.text(max_size=8), st.sampled_from(MARKUP)), max_size=8).map(
    "".join
)


@settings(max_examples=150, deadline=None)
@given(name=OUTSIDE_TEXT, message=OUTSIDE_TEXT, author=OUTSIDE_TEXT)
def test_any_text_from_outside_is_shown_exactly_and_never_as_markup(name, message, author):
    """Whatever a model name, an alert message or an author's name holds, the report's tags
    are its own and each text reads back exactly as given."""
    import datetime as dt
    from html.parser import HTMLParser

    from caselens.model.monitoring_plan import MonitoringPlan
    from caselens.monitoring.governance_report import ReportContent, render_governance_report

    alert = psi_alert("m", "2026-03", message)
    content = ReportContent(
        model_id="m",
        model_name=name,
        model_version="1",
        plan=MonitoringPlan(),
        figures=(),
        alerts=(alert,),
        recorded_alerts=frozenset(),
        watches=(),
        feedback=(),
        limitations=(),
        simulated_run=None,
        generated_at=dt.datetime(2026, 7, 1, tzinfo=dt.UTC),
        generated_by=author,
    )
    texts: dict[str, str] = {}
    tags: set[str] = set()

    class Read(HTMLParser):
        inside = ""

        def handle_starttag(self, tag, attrs):
            tags.add(tag)
            self.inside = tag

        def handle_endtag(self, tag):
            self.inside = ""

        def handle_data(self, data):
            texts[self.inside] = texts.get(self.inside, "") + data

    # convert_charrefs: the parser hands over the text as a browser shows it.
    Read(convert_charrefs=True).feed(render_governance_report(content))
    assert tags <= ALLOWED_TAGS
    assert texts["h1"] == f"Monitoring report: {name}"
    assert (
        f"Model m version 1 · periods no period · generated 2026-07-01 00:00 UTC by {author} ("
        in (texts["p"])
    )
    assert message in texts["td"]


def test_a_chart_places_each_value_and_its_interval_between_the_axis_ends():
    from caselens.monitoring.report_charts import HEIGHT, PAD, WIDTH, chart
    from caselens.monitoring.stats import Estimate

    drawn = chart(
        "AUROC",
        ["2026-01", "2026-02", "2026-03"],
        [Estimate(0.5, 0.4, 0.6), None, Estimate(0.9)],
        limits=(0.0,),
        reference=1.0,
    )
    assert drawn.measured and [p.x for p in drawn.points] == [f"{PAD:.1f}", f"{WIDTH - PAD:.1f}"]
    # 0 at the bottom of the plot area, 1 at its top, 0.5 half way.
    assert [g.y for g in drawn.guides] == [f"{HEIGHT - PAD:.1f}", f"{PAD:.1f}"]
    assert drawn.points[0].y == f"{HEIGHT / 2:.1f}" and drawn.points[1].low is None
    # The interval 0.4–0.6 spans a fifth of the 108 px between 0 (y=144) and 1 (y=36).
    assert (drawn.points[0].low, drawn.points[0].high) == ("100.8", "79.2")
    assert drawn.line == f"{PAD:.1f},{HEIGHT / 2:.1f} {WIDTH - PAD:.1f},{drawn.points[1].y}"
    assert [t for _, t in drawn.axis] == ["0.00", "1.00"]
    assert not chart("Slope", ["2026-01"], [None, Estimate(None)]).measured
