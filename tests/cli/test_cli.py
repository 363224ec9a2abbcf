"""The caselens command: one library call per command, errors as messages, help everywhere."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from caselens.cli.main import main
from caselens.model.bundle import CARD_FILE


def _all_commands(group: click.Group, prefix: str = ""):
    # Through list_commands/get_command, so the lazily imported groups (audit) count too.
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, f"{prefix}{name} is listed but cannot be loaded"
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from _all_commands(command, f"{prefix}{name} ")


def test_every_command_has_help_with_an_example():
    names = set()
    for name, command in _all_commands(main):
        assert command.help and "Example:" in command.help, name
        names.add(name)
    assert {"audit verify", "audit rotate-key", "users unlock", "bundle create"} <= names


def test_bundle_check_prints_the_key_facts(heart_bundle):
    result = CliRunner().invoke(main, ["bundle", "check", str(heart_bundle.path)])
    assert result.exit_code == 0, result.output
    assert "OK: heart-disease 1.0.0, 13 inputs" in result.output


def test_bundle_check_on_a_tampered_bundle_fails_with_a_message_not_a_traceback(bundle_copy):
    folder = bundle_copy()
    card = json.loads((folder / CARD_FILE).read_text())
    card["model_sha256"] = "0" * 64
    (folder / CARD_FILE).write_text(json.dumps(card))
    result = CliRunner().invoke(main, ["bundle", "check", str(folder)])
    assert result.exit_code == 1
    assert "does not match its card" in result.output
    assert "Traceback" not in result.output


def test_bundle_create_from_a_users_files(heart_bundle, tmp_path):
    import skops.io as sio

    model = tmp_path / "model.skops"
    sio.dump(heart_bundle.model, model)
    card = heart_bundle.card.model_dump(mode="json")
    for key in ("model_file", "model_sha256", "library_versions"):
        card.pop(key)
    (tmp_path / "card.json").write_text(json.dumps(card))
    (tmp_path / "features.json").write_text(heart_bundle.features.model_dump_json())
    heart_bundle.reference.to_parquet(tmp_path / "reference.parquet")
    result = CliRunner().invoke(
        main,
        [
            "bundle",
            "create",
            "--model",
            str(model),
            "--card",
            str(tmp_path / "card.json"),
            "--features",
            str(tmp_path / "features.json"),
            "--reference",
            str(tmp_path / "reference.parquet"),
            "--out",
            str(tmp_path / "mine"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Created" in result.output and "heart-disease 1.0.0" in result.output
    assert (tmp_path / "mine" / "card.json").is_file()


def test_bundle_create_with_an_invalid_card_names_the_field(heart_bundle, tmp_path):
    import skops.io as sio

    model = tmp_path / "model.skops"
    sio.dump(heart_bundle.model, model)
    card = heart_bundle.card.model_dump(mode="json")
    card["conformal_coverage"] = 2
    (tmp_path / "card.json").write_text(json.dumps(card))
    (tmp_path / "features.json").write_text(heart_bundle.features.model_dump_json())
    heart_bundle.reference.to_parquet(tmp_path / "reference.parquet")
    result = CliRunner().invoke(
        main,
        [
            "bundle",
            "create",
            "--model",
            str(model),
            "--card",
            str(tmp_path / "card.json"),
            "--features",
            str(tmp_path / "features.json"),
            "--reference",
            str(tmp_path / "reference.parquet"),
            "--out",
            str(tmp_path / "mine"),
        ],
    )
    assert result.exit_code == 1
    assert "field 'conformal_coverage'" in result.output


def test_users_seed_demo_then_list_shows_one_account_per_role(tmp_path, monkeypatch):
    monkeypatch.setenv("CASELENS_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    first = runner.invoke(main, ["users", "seed-demo"])
    assert first.exit_code == 0 and "7 created" in first.output  # three patients (one in Spanish)
    again = runner.invoke(main, ["users", "seed-demo"])
    assert "0 created (all present)" in again.output
    listed = runner.invoke(main, ["users", "list"]).output
    for role in ("clinician", "patient", "reviewer", "admin", "model_owner"):
        assert f"\t{role}\t" in listed


def test_users_add_with_a_short_password_names_the_problem(tmp_path, monkeypatch):
    monkeypatch.setenv("CASELENS_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(
        main,
        ["users", "add", "dr.ng", "--name", "Dr Ng", "--role", "clinician"],
        input="short\nshort\n",
    )
    assert result.exit_code == 1
    assert "password: at least 10 characters" in result.output


def test_users_unlock_clears_the_back_off_and_is_recorded(tmp_path, monkeypatch):
    from caselens.access.accounts import AccountStore, SignInRefused
    from caselens.access.app_database import open_app_database
    from caselens.audit import open_trail

    monkeypatch.setenv("CASELENS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CASELENS_AUDIT_KEY", raising=False)
    monkeypatch.delenv("CASELENS_AUDIT_URL", raising=False)
    monkeypatch.delenv("CASELENS_APP_DB_URL", raising=False)
    open_trail().close()
    store = AccountStore(open_app_database(tmp_path))
    store.add("dr.ng", name="Dr Ng", role="clinician", password="long enough pw")
    for _ in range(5):
        with pytest.raises(SignInRefused):
            store.sign_in("dr.ng", "wrong password", client="device:" + "d" * 32)
    assert store.get("dr.ng").locked_until is not None
    result = CliRunner().invoke(main, ["users", "unlock", "dr.ng"])
    assert result.exit_code == 0, result.output
    assert store.get("dr.ng").locked_until is None
    with open_trail(create=False) as trail:
        last = trail.entries()[-1]
    assert (last.action, last.detail()) == ("user_unlocked", {"user_id": "dr.ng"})
    unknown = CliRunner().invoke(main, ["users", "unlock", "nobody"])
    assert unknown.exit_code == 1 and "no account 'nobody'" in unknown.output
