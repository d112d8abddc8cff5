"""The `mailbeacon` command: administration, stats, config; expected errors are one sentence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def test_workspace_user_token_device(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("workspace", "add", "acme", "--domain", "acme.test")[0] == 0
    code, out, _ = cli("user", "add", "Alice@ACME.test", "--workspace", "acme", "--password-stdin", stdin="s3cret\n")
    assert code == 0 and "alice@acme.test" in out and "s3cret" not in out
    code, out, _ = cli("user", "add", "bob@acme.test", "--workspace", "acme")
    assert code == 0 and "Password (shown once)" in out
    assert cli("user", "add-address", "alice@acme.test", "alice@home.example")[0] == 0
    code, out, _ = cli("user", "list", "--json")
    users = json.loads(out)
    assert users[0]["addresses"] == ["alice@acme.test", "alice@home.example"]
    code, out, _ = cli("token", "add", "alice@acme.test")
    assert code == 0 and "mbt_" in out
    code, out, _ = cli("device", "add", "alice@acme.test", "--kind", "extension", "--json")
    dev = json.loads(out)
    assert dev["device_id"].startswith("dv_") and dev["cookie"].startswith("mb_device=")
    assert cli("device", "revoke", dev["device_id"])[0] == 0
    code, out, _ = cli("workspace", "set", "acme", "--no-track-opens")
    assert code == 0
    code, out, _ = cli("workspace", "list", "--json")
    assert json.loads(out)[0]["settings"] == {"track_opens": False}
    assert cli("user", "set", "alice@acme.test", "--no-track-clicks")[0] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("user", "add", "nobody@acme.test", "--workspace", "nope"), "no workspace 'nope'"),
        (("user", "add", "not-an-address", "--workspace", "acme"), "is not an email address"),
        (("workspace", "add", "acme"), "exists already"),
        (("stats", "--message", "<missing@x>"), "no tracked message"),
        (("reclassify", "--since", "yesterday"), "not an ISO 8601 time"),
        (("--set", "http=nonsense", "config"), "is not host:port"),
        (("device", "revoke", "dv_nope"), "no paired device"),
    ],
)
def test_expected_errors_are_one_sentence(cli, args: tuple[str, ...], message: str) -> None:  # type: ignore[no-untyped-def]
    cli("workspace", "add", "acme")
    code, out, err = cli(*args)
    assert code != 0
    assert message in err
    assert "Traceback" not in err + out
    assert len(err.strip().splitlines()) <= 2


def test_config_masks_secrets_and_shows_sources(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MAILBEACON_UPSTREAM_SMTP", "smtp://relay:hunter2@mx.example:587")
    cfg = tmp_path / "m.toml"
    cfg.write_text('http = "0.0.0.0:9000"\n')
    code, out, _ = cli("--config", str(cfg), "--set", "smtp=off", "config", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["upstream_smtp"] == "smtp://relay:****@mx.example:587"
    assert data["http"] == "0.0.0.0:9000" and data["smtp"] == "off"
    assert "hunter2" not in out


def test_stats_json_shape(cli, sqlite_url: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from conftest import make_settings
    from mailbeacon.runtime import Runtime
    from seeding import seed_message

    rt = Runtime.open(make_settings(tmp_path, sqlite_url), migrate=False)
    s = seed_message(rt, ["bob@client.example", "carol@client.example"])
    rt.close()
    code, out, _ = cli("stats", "--message", s.message.rfc_message_id, "--json")
    assert code == 0
    (report,) = json.loads(out)
    assert report["message_id"] == s.message.rfc_message_id
    assert [r["address"] for r in report["recipients"]] == ["bob@client.example", "carol@client.example"]
    for r in report["recipients"]:
        assert {
            "address",
            "opens",
            "opens_inferred",
            "clicks",
            "replies",
            "first_open_at",
            "last_open_at",
            "hits",
        } <= set(r)
        assert set(r["hits"]) == {"human", "self", "machine_open", "scanner", "preview", "unknown"}
    code, out, _ = cli("stats")
    assert code == 0 and "bob@client.example" in out


def test_migrate_and_console_script(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "MAILBEACON_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "MAILBEACON_DATA_DIR": str(tmp_path),
    }
    exe = Path(sys.executable).with_name("mailbeacon")
    first = subprocess.run([str(exe), "migrate"], env=env, capture_output=True, text=True, check=True)
    assert "Applied migrations" in first.stdout
    again = subprocess.run([str(exe), "migrate"], env=env, capture_output=True, text=True, check=True)
    assert "up to date" in again.stdout
    bad = subprocess.run([str(exe), "--set", "writer_batch_size=0", "migrate"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "must be positive" in bad.stderr and "Traceback" not in bad.stderr


def test_every_command_is_documented() -> None:
    from mailbeacon.cli.reference import commands_markdown

    text = (Path(__file__).parent.parent / "docs" / "cli.md").read_text()
    assert commands_markdown() in text, "docs/cli.md is out of date: regenerate the command table"
