"""The door split by job: one ``Workflow`` with every method it had, old import paths kept,
and each part small (no module over 600 lines, no function over 80)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import caselens.workflow as face
from caselens.workflow import door

WORKFLOW_DIR = Path(face.__file__).parent
#: Every public method the door had before it was split (issue 23); none may go missing.
METHODS_BEFORE_THE_SPLIT = (
    "add_user",
    "audit_choices",
    "audit_entry",
    "audit_page",
    "awaiting_own_estimate",
    "bundle",
    "check_monitoring",
    "client_identity",
    "clinician_use",
    "cookie_handoff",
    "current_viewer",
    "estimate_first",
    "export_trail",
    "find_in_trail",
    "give_feedback",
    "language_of",
    "list_users",
    "may",
    "model_facts",
    "model_status",
    "model_statuses",
    "model_warnings",
    "monitoring_report",
    "monitoring_runs",
    "monitoring_view",
    "open_alerts",
    "open_page",
    "own_estimate",
    "patient_pseudonym",
    "preview_patient_view",
    "replay",
    "replayed_model_warnings",
    "rerun",
    "resume",
    "save_own_estimate",
    "scheduled_monitoring_check",
    "set_model_status",
    "show_my_result",
    "show_report",
    "sign_in",
    "sign_out",
    "skip_own_estimate",
    "start_monitoring_schedule",
    "suspend_from_alert",
    "unlock_user",
    "verify_trail",
    "warm_up_monitoring",
)


def test_the_workflow_keeps_every_method_it_had():
    missing = [m for m in METHODS_BEFORE_THE_SPLIT if not callable(getattr(face.Workflow, m, None))]
    assert missing == []


@pytest.mark.parametrize("name", face.__all__)
def test_the_face_keeps_its_names(name):
    assert getattr(face, name) is not None


@pytest.mark.parametrize("name", door.__all__)
def test_the_old_door_module_still_gives_its_names(name):
    value = getattr(door, name)
    # The very object of the module that holds it now, not a copy.
    home = importlib.import_module(getattr(value, "__module__", door.__name__) or door.__name__)
    if isinstance(value, type):
        assert getattr(home, name) is value


@pytest.mark.parametrize("path", sorted(WORKFLOW_DIR.glob("*.py")), ids=lambda p: p.name)
def test_each_part_of_the_door_is_small(path):
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 600
    long = [
        node.name
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 80
    ]
    assert long == []


def test_no_two_parts_of_the_door_define_the_same_private_method():
    """The door is one class made of mixins: a private helper defined in two of them would
    silently resolve to one (the method order's), breaking the other part."""
    import inspect

    from caselens.workflow import Workflow
    from caselens.workflow._door_base import DoorBase

    seen: dict[str, str] = {}
    clashes = []
    for part in Workflow.__mro__[1:]:
        if not part.__module__.startswith("caselens.workflow"):
            continue
        for name, member in vars(part).items():
            if name.startswith("__") or not inspect.isfunction(member):
                continue
            if name in seen and part is DoorBase and name in DoorBase.HOOKS:
                continue  # a hook: the base's no-op, overridden by one part on purpose
            if name in seen:
                clashes.append(f"{name}: {seen[name]} and {part.__name__}")
            else:
                seen[name] = part.__name__
    assert not clashes, clashes
