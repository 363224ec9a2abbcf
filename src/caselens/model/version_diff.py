"""What changed between two versions of a model: a computed change log, section by section.

Pure: :func:`diff_versions` reads two loaded bundles of one model id (their cards, feature
schemas, measured validation figures and monitoring plans) and returns every difference a
reader could see, each with a plain sentence. Nothing is copied from a changelog the owner
wrote: the owner's stated reason for the change is shown beside the diff, never instead of it.

Every section is compared, in this order:

- **Model file and family**: the model file's SHA-256, the family (``card.model_type``), the
  file name, library versions and random seed.
- **Inputs**: inputs added or removed, and every stated attribute of an input kept (label,
  unit, accepted and training ranges, categories, whether a missing value is allowed …).
- **Decision threshold** and its rationale.
- **Calibration**: the method, what it was fitted on, why, the candidates' figures.
- **Validation figures**: method, dataset and every figure, overall and for each subgroup
  (AUROC with its interval, sensitivity, specificity, PPV, Brier, ECE, calibration slope and
  intercept, n, events …), measured on each version's reference data when it could be.
- **Monitoring plan**: every threshold and minimum n of the plan in force for each version.
- **Card text**: every other field of the card, walked generically, so a field added to the
  card later is compared without a change here.

Examples
--------
>>> diff = diff_versions(older_bundle, newer_bundle)  # doctest: +SKIP
>>> [c.words for c in diff.changes if c.section == SECTION_THRESHOLD]  # doctest: +SKIP
['Decision threshold 0.50 → 0.40.']
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from caselens.errors import CaseLensError
from caselens.model.bundle_layout import ModelBundle
from caselens.model.card import HTI1_SOURCE_ATTRIBUTES, PerformanceFigures, Validation
from caselens.model.features import FeatureSpec
from caselens.model.monitoring_plan import PlanError, plan_for

SECTION_MODEL = "Model file and family"
SECTION_INPUTS = "Inputs"
SECTION_THRESHOLD = "Decision threshold"
SECTION_CALIBRATION = "Calibration"
SECTION_VALIDATION = "Validation figures"
SECTION_MONITORING = "Monitoring plan"
SECTION_CARD = "Card text"
#: The sections in the order they are compared and shown.
SECTIONS: tuple[str, ...] = (
    SECTION_MODEL,
    SECTION_INPUTS,
    SECTION_THRESHOLD,
    SECTION_CALIBRATION,
    SECTION_VALIDATION,
    SECTION_MONITORING,
    SECTION_CARD,
)

#: What a before or after says when the item is not in that version.
ABSENT = "not in this version"
#: What a before or after says when the field is empty (``None``).
NOT_STATED = "not stated"
#: Longest before/after text put inside a sentence; a longer one is in before/after only.
MAX_INLINE_CHARS = 80
#: The same for the headline changes a reader must see whole in the sentence: the model
#: family and an input added or removed.
MAX_HEADLINE_CHARS = 400

#: Card fields compared in their own sections (the rest is walked as card text).
_OWN_SECTION_FIELDS = frozenset(
    {
        "model_sha256",
        "model_type",
        "decision_threshold",
        "threshold_rationale",
        "calibration",
        "validation",
        "monitoring",
    }
)
#: Card fields that describe the model file rather than its use.
_MODEL_FILE_FIELDS = frozenset({"model_file", "library_versions", "random_seed"})

#: Clinical words for card fields and input attributes (others: the field's name in words).
_WORDS: dict[str, str] = {
    "model_id": "Model id",
    "out_of_scope_uses": "Out-of-scope uses",
    "known_failure_modes": "Known failure modes",
    "review_interval_days": "Review interval (days)",
    "conformal_coverage": "Conformal coverage",
    "source_attributes": "HTI-1 source attribute",
    "patient_texts": "Patient texts",
    "changeable_inputs": "Changeable inputs",
    "next_steps": "Next steps",
    "expected_directions": "Expected directions",
    "model_kind": "Model kind (diagnostic or prognostic)",
    "demonstration_only": "Demonstration only",
    "library_versions": "Library version",
    "random_seed": "Random seed",
    "model_file": "Model file name",
    "ppv": "PPV",
    "auroc": "AUROC",
    "ece": "ECE",
    "brier": "Brier",
    "n": "n",
    "hard_min": "lowest accepted value",
    "hard_max": "highest accepted value",
    "training_min": "lowest value in training",
    "training_max": "highest value in training",
    "missing_allowed": "missing value allowed",
    "training_missing_share": "share missing in training",
    "training_counts": "counts in training",
    "category_descriptions": "category descriptions",
    "subgroup_bins": "subgroup band edges",
    "fhir": "FHIR mapping",
    "patient_label": "patient label",
    "n_train": "Training rows",
    "n_calibration": "Calibration rows",
    "n_test": "Test rows",
}
#: An input's kind as the diff names it.
_KIND_WORDS = {"number": "number", "integer": "whole number", "category": "category"}
_HTI1_WORDS = {key: wording for key, _, wording in HTI1_SOURCE_ATTRIBUTES}


class VersionDiffError(CaseLensError):
    """Two bundles that cannot be compared (they are not versions of one model id)."""


@dataclass(frozen=True)
class Change:
    """One difference between two versions.

    Attributes
    ----------
    section : str
        One of :data:`SECTIONS`.
    item : str
        What changed, in words (``"Overall · AUROC"``, ``"Cholesterol (chol)"``); the same
        item names the same thing whichever version is older.
    before, after : str
        The value in the older and the newer version, as shown (:data:`ABSENT` when the
        item is not in that version).
    words : str
        A plain sentence: ``"Decision threshold 0.50 → 0.40."``.
    """

    section: str
    item: str
    before: str
    after: str
    words: str


@dataclass(frozen=True)
class VersionDiff:
    """Every difference between two versions of one model id (empty when they are the same).

    Attributes
    ----------
    model_id : str
    older_sha, newer_sha : str
        The versions' bundle SHA-256 (their version ids).
    older_version, newer_version : str
        The cards' own version labels, for people.
    changes : tuple of Change
        In :data:`SECTIONS` order, then in the order of each section's walk.
    """

    model_id: str
    older_sha: str
    newer_sha: str
    older_version: str
    newer_version: str
    changes: tuple[Change, ...]

    @property
    def items(self) -> frozenset[tuple[str, str]]:
        """``(section, item)`` of every change: what the diff names."""
        return frozenset((c.section, c.item) for c in self.changes)

    def by_section(self) -> dict[str, tuple[Change, ...]]:
        """The changes grouped by section, in :data:`SECTIONS` order (sections with none
        left out)."""
        grouped = {s: tuple(c for c in self.changes if c.section == s) for s in SECTIONS}
        return {s: found for s, found in grouped.items() if found}


# -- values as shown ------------------------------------------------------------------------


def _number(value: float) -> str:
    """A figure as shown: at most 4 decimals, no trailing zeros (``0.9048``, ``0.5``, ``61``)."""
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")


def show(value: Any) -> str:
    """Any card or schema value as a reader sees it in the diff."""
    if value is None:
        return NOT_STATED
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return _number(float(value))
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        if all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
            return "; ".join(show(v) for v in value) if value else "none"
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return str(value)


def _words(name: str) -> str:
    """A field's name in words: the table above, else ``snake_case`` → ``Snake case``."""
    return _WORDS.get(name) or name.replace("_", " ").capitalize()


def _sentence(item: str, before: str, after: str, *, limit: int = MAX_INLINE_CHARS) -> str:
    """The change in one plain sentence, values up to ``limit`` characters inline, longer
    ones named only (they are in before and after)."""
    if before == ABSENT:
        inline = f": {after}" if len(after) <= limit else ""
        return f"{item} added{inline}."
    if after == ABSENT:
        inline = f" (was {before})" if len(before) <= limit else ""
        return f"{item} removed{inline}."
    if max(len(before), len(after)) <= limit:
        return f"{item} {before} → {after}."
    return f"{item} changed (a long text: see its before and after)."


def _change(
    section: str, item: str, before: str, after: str, *, limit: int = MAX_INLINE_CHARS
) -> Change:
    return Change(section, item, before, after, _sentence(item, before, after, limit=limit))


def _compare(section: str, item: str, before: Any, after: Any) -> list[Change]:
    """One change when the two values read differently, else none."""
    old, new = show(before), show(after)
    return [] if old == new else [_change(section, item, old, new)]


# -- sections -----------------------------------------------------------------------------------


def _model_section(older: ModelBundle, newer: ModelBundle) -> list[Change]:
    family = []
    if older.card.model_type != newer.card.model_type:
        family.append(
            _change(
                SECTION_MODEL,
                "Model family",
                older.card.model_type,
                newer.card.model_type,
                limit=MAX_HEADLINE_CHARS,
            )
        )
    return [
        *family,
        *_compare(SECTION_MODEL, "Model file SHA-256", older.model_sha256, newer.model_sha256),
    ]


def _input_name(spec: FeatureSpec) -> str:
    return f"{spec.label} ({spec.name})" if spec.label != spec.name else spec.name


def _input_summary(spec: FeatureSpec) -> str:
    """An input in one line: kind, unit, range or categories."""
    parts = [_KIND_WORDS.get(spec.kind, spec.kind)]
    if spec.unit:
        parts.append(spec.unit)
    if spec.categories:
        parts.append("categories " + ", ".join(spec.categories))
    if spec.hard_min is not None or spec.hard_max is not None:
        parts.append(f"accepted {show(spec.hard_min)} to {show(spec.hard_max)}")
    if spec.missing_allowed:
        parts.append("may be missing")
    return ", ".join(parts)


def _inputs_section(older: ModelBundle, newer: ModelBundle) -> list[Change]:
    """Inputs added, removed, and every attribute of an input in both (by input name)."""
    old = {f.name: f for f in older.features}
    new = {f.name: f for f in newer.features}
    changes: list[Change] = []
    for name in [*old, *(n for n in new if n not in old)]:
        before, after = old.get(name), new.get(name)
        if before is None or after is None:
            spec = before or after
            assert spec is not None
            item = f"Input {_input_name(spec)}"
            summary = _input_summary(spec)
            changes.append(
                _change(
                    SECTION_INPUTS,
                    item,
                    summary if before is not None else ABSENT,
                    summary if after is not None else ABSENT,
                    limit=MAX_HEADLINE_CHARS,
                )
            )
            continue
        old_fields = before.model_dump(mode="json")
        new_fields = after.model_dump(mode="json")
        # Walk the schema's own fields, so an attribute added to FeatureSpec is compared too.
        for field_name in [*old_fields, *(k for k in new_fields if k not in old_fields)]:
            if field_name == "name":
                continue
            changes += _compare(
                SECTION_INPUTS,
                f"{_input_name(after)}: {_words(field_name)}",
                old_fields.get(field_name),
                new_fields.get(field_name),
            )
    return changes


def _threshold_section(older: ModelBundle, newer: ModelBundle) -> list[Change]:
    old, new = older.card.decision_threshold, newer.card.decision_threshold
    changes = []
    if f"{old:.4f}" != f"{new:.4f}":
        # Two decimals as people write a threshold (0.50); more when that would hide it.
        digits = 2 if f"{old:.2f}" != f"{new:.2f}" else 4
        changes.append(
            _change(
                SECTION_THRESHOLD, "Decision threshold", f"{old:.{digits}f}", f"{new:.{digits}f}"
            )
        )
    changes += _compare(
        SECTION_THRESHOLD,
        "Threshold rationale",
        older.card.threshold_rationale,
        newer.card.threshold_rationale,
    )
    return changes


def _walk(section: str, prefix: str, before: Any, after: Any) -> list[Change]:
    """Compare two JSON values leaf by leaf (a mapping by its keys, anything else whole)."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        changes: list[Change] = []
        for key in [*before, *(k for k in after if k not in before)]:
            words = _WORDS.get(str(key)) or str(key).replace("_", " ")
            item = f"{prefix} · {words}" if prefix else _words(str(key))
            if key not in before or key not in after:
                changes.append(
                    _change(
                        section,
                        item,
                        show(before[key]) if key in before else ABSENT,
                        show(after[key]) if key in after else ABSENT,
                    )
                )
            else:
                changes += _walk(section, item, before[key], after[key])
        return changes
    return _compare(section, prefix, before, after)


def _calibration_section(older: ModelBundle, newer: ModelBundle) -> list[Change]:
    old = older.card.calibration.model_dump(mode="json")
    new = newer.card.calibration.model_dump(mode="json")
    changes = _compare(
        SECTION_CALIBRATION, "Calibration method", old.pop("method"), new.pop("method")
    )
    return changes + _walk(SECTION_CALIBRATION, "Calibration", old, new)


def _auroc_text(figures: PerformanceFigures) -> str:
    if figures.auroc is None:
        return NOT_STATED
    if figures.auroc_ci95 is None:
        return f"{_number(figures.auroc)} (no interval)"
    low, high = figures.auroc_ci95
    return f"{_number(figures.auroc)} ({_number(low)}–{_number(high)})"


def _figures(
    section: str, population: str, old: PerformanceFigures | None, new: PerformanceFigures | None
) -> list[Change]:
    """Every figure of one population; a population in one version only is one change."""
    if old is None or new is None:
        figures = old or new
        assert figures is not None
        summary = f"n={figures.n}, events={figures.events}, AUROC {_auroc_text(figures)}"
        return [
            _change(
                section,
                population,
                summary if old is not None else ABSENT,
                summary if new is not None else ABSENT,
            )
        ]
    changes = _compare(section, f"{population} · AUROC", _auroc_text(old), _auroc_text(new))
    # Every other field of the figures, so a figure added to the card later is compared too.
    for name in PerformanceFigures.model_fields:
        if name in {"auroc", "auroc_ci95"}:
            continue
        changes += _compare(
            section, f"{population} · {_words(name)}", getattr(old, name), getattr(new, name)
        )
    return changes


def _validation(bundle: ModelBundle) -> Validation:
    """The figures a reader is shown: measured on the reference data, else the card's."""
    return bundle.measured_validation or bundle.card.validation


def _validation_section(older: ModelBundle, newer: ModelBundle) -> list[Change]:
    old, new = _validation(older), _validation(newer)
    section = SECTION_VALIDATION
    changes = [
        *_compare(section, "Validation method", old.method, new.method),
        *_compare(section, "Validation dataset", old.dataset, new.dataset),
        *_compare(section, "Calibration error bins", old.ece_bins, new.ece_bins),
        *_figures(section, "Overall", old.overall, new.overall),
    ]
    old_groups = {(s.variable, s.group): s.figures for s in old.subgroups}
    new_groups = {(s.variable, s.group): s.figures for s in new.subgroups}
    for key in [*old_groups, *(k for k in new_groups if k not in old_groups)]:
        population = f"Subgroup {key[0]}: {key[1]}"
        changes += _figures(section, population, old_groups.get(key), new_groups.get(key))
    return changes


def _plan(bundle: ModelBundle) -> dict[str, Any]:
    """The monitoring plan in force for a version, as JSON (its refusal, when it has one)."""
    try:
        return plan_for(bundle).model_dump(mode="json")
    except (PlanError, OSError) as exc:
        return {"plan": f"refused: {exc}"}


def _monitoring_section(older: ModelBundle, newer: ModelBundle) -> list[Change]:
    return _walk(SECTION_MONITORING, "", _plan(older), _plan(newer))


def _card_text_section(older: ModelBundle, newer: ModelBundle) -> list[Change]:
    """Every other card field, walked generically (a field added to the card later is still
    compared); the model file's own fields go to the model section."""
    old = older.card.model_dump(mode="json")
    new = newer.card.model_dump(mode="json")
    changes: list[Change] = []
    for key in [*old, *(k for k in new if k not in old)]:
        if key in _OWN_SECTION_FIELDS:
            continue
        section = SECTION_MODEL if key in _MODEL_FILE_FIELDS else SECTION_CARD
        if key == "source_attributes":
            before, after = old.get(key) or {}, new.get(key) or {}
            for attribute in [*before, *(a for a in after if a not in before)]:
                item = f"HTI-1: {_HTI1_WORDS.get(attribute, attribute)}"
                changes += _walk(
                    section,
                    item,
                    before.get(attribute, ABSENT),
                    after.get(attribute, ABSENT),
                )
            continue
        if key not in old or key not in new:
            changes += [
                _change(
                    section,
                    _words(key),
                    show(old[key]) if key in old else ABSENT,
                    show(new[key]) if key in new else ABSENT,
                )
            ]
            continue
        changes += _walk(section, _words(key), old[key], new[key])
    return changes


def _in_order(changes: Iterable[Change]) -> tuple[Change, ...]:
    rank = {s: i for i, s in enumerate(SECTIONS)}
    return tuple(sorted(changes, key=lambda c: rank[c.section]))  # stable within a section


def diff_versions(older: ModelBundle, newer: ModelBundle) -> VersionDiff:
    """Every difference between two versions of one model id, section by section.

    Parameters
    ----------
    older, newer : ModelBundle
        Two loaded versions of the same model id (either order is allowed: the diff of
        ``(b, a)`` names the same items as ``(a, b)``, before and after swapped).

    Returns
    -------
    VersionDiff
        No changes when the two read the same in every section.

    Raises
    ------
    VersionDiffError
        When the bundles are of two different model ids.
    """
    if older.model_id != newer.model_id:
        raise VersionDiffError(
            f"Only versions of one model can be compared: {older.model_id} and "
            f"{newer.model_id} are two models."
        )
    changes = [
        *_model_section(older, newer),
        *_inputs_section(older, newer),
        *_threshold_section(older, newer),
        *_calibration_section(older, newer),
        *_validation_section(older, newer),
        *_monitoring_section(older, newer),
        *_card_text_section(older, newer),
    ]
    return VersionDiff(
        model_id=older.model_id,
        older_sha=older.bundle_sha256,
        newer_sha=newer.bundle_sha256,
        older_version=older.version,
        newer_version=newer.version,
        changes=_in_order(changes),
    )
