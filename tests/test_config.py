"""Settings: one table, four sources in a fixed order, clear errors, secrets masked, docs kept complete."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from pathlib import Path

import pytest

from conftest import Run
from mailbeacon.config import (
    Settings,
    default_config_file,
    load_settings,
    mask,
    platform_data_dir,
    settings_markdown,
    settings_table,
    split_hostport,
)
from mailbeacon.errors import ConfigError

DOCS = Path(__file__).parent.parent / "docs" / "configuration.md"


def test_defaults() -> None:
    s = load_settings(environ={})
    data = platform_data_dir()
    assert s.database_url == ""  # derived: the same file from any directory
    assert s.effective_database_url == f"sqlite:///{data / 'mailbeacon.db'}"
    assert data.is_absolute()
    assert s.http == "127.0.0.1:8025"
    assert s.smtp == "127.0.0.1:2525"
    assert s.effective_public_url == "http://127.0.0.1:8025"
    assert s.trusted_proxies == ()
    assert s.effective_data_dir == data


def test_data_location_follows_the_platform_and_can_be_moved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert platform_data_dir() == tmp_path / "xdg" / "mailbeacon"
    assert default_config_file() == Path(os.environ["XDG_CONFIG_HOME"]) / "mailbeacon" / "config.toml"
    moved = load_settings(environ={}, overrides={"data_dir": str(tmp_path / "d")})
    assert moved.effective_database_url == f"sqlite:///{tmp_path / 'd' / 'mailbeacon.db'}"
    beside = load_settings(environ={}, overrides={"database_url": f"sqlite:///{tmp_path / 'x.db'}"})
    assert beside.effective_data_dir == tmp_path / "x.db.data"
    pg = load_settings(environ={}, overrides={"database_url": "postgresql://u@h/db"})
    assert pg.effective_data_dir == tmp_path / "xdg" / "mailbeacon"  # not the current directory


def test_tests_never_touch_the_real_user_data_dir() -> None:
    home = Path.home()
    for where in (platform_data_dir(), default_config_file()):
        assert "mailbeacon-tests-" in str(where), where
        assert not str(where).startswith(str(home / ".local")) and not str(where).startswith(str(home / ".config"))


def test_precedence_file_then_env_then_flags(tmp_path: Path) -> None:
    """defaults < file < environment < flags: the more explicit source wins."""
    env = {"MAILBEACON_HTTP": "0.0.0.0:1", "MAILBEACON_SMTP": "0.0.0.0:2", "MAILBEACON_LOG_LEVEL": "debug"}
    cfg = tmp_path / "m.toml"
    cfg.write_text(
        'http = "0.0.0.0:3"\nsmtp = "0.0.0.0:4"\nqueue_size = 7\ntrusted_proxies = ["10.0.0.0/8", "::1/128"]\n'
    )
    s = load_settings(environ=env, config_file=cfg, overrides={"smtp": "off"})
    assert s.log_level == "debug"  # env only
    assert s.queue_size == 7  # file only
    assert s.http == "0.0.0.0:1"  # env beats file
    assert s.smtp == "off"  # flag beats env and file
    assert s.trusted_proxies == ("10.0.0.0/8", "::1/128")
    assert s.writer_batch_size == 500  # neither: the default


def test_file_with_section_and_types(tmp_path: Path) -> None:
    cfg = tmp_path / "m.toml"
    cfg.write_text("[mailbeacon]\ndecoy_link = false\nsettle_window = 30\nwriter_batch_size = 10\n")
    s = load_settings(environ={"MAILBEACON_REWRITE_TEXT": "yes"}, config_file=cfg)
    assert s.decoy_link is False and s.rewrite_text is True
    assert s.settle_window == 30.0
    assert s.writer_batch_size == 10


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MAILBEACON_HTTP": "nope"}, "host:port"),
        ({"MAILBEACON_WRITER_BATCH_SIZE": "many"}, "whole number"),
        ({"MAILBEACON_DECOY_LINK": "maybe"}, "true or false"),
        ({"MAILBEACON_TRUSTED_PROXIES": "10.0.0.0/8,garbage"}, "not an IP network"),
        ({"MAILBEACON_UPSTREAM_SMTP": "http://x"}, "upstream_smtp must look like"),
        ({"MAILBEACON_PUBLIC_URL": "t.example.com"}, "public_url must be"),
        ({"MAILBEACON_HTTP_SERVER": "apache"}, "one of granian, uvicorn"),
        ({"MAILBEACON_SETTLE_WINDOW": "0"}, "positive"),
    ],
)
def test_bad_values_say_what_is_wrong(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=env)


def test_unknown_setting_in_file_is_an_error(tmp_path: Path) -> None:
    cfg = tmp_path / "m.toml"
    cfg.write_text("databse_url = 'x'\n")
    with pytest.raises(ConfigError, match="unknown setting 'databse_url'"):
        load_settings(environ={}, config_file=cfg)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(environ={}, config_file=tmp_path / "missing.toml")
    cfg.write_text("http = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(environ={}, config_file=cfg)


def test_hostport_forms() -> None:
    assert split_hostport("[::1]:25") == ("::1", 25)
    assert split_hostport("localhost:80") == ("localhost", 80)
    with pytest.raises(ConfigError):
        split_hostport("localhost:99999")


def test_secrets_are_masked() -> None:
    assert mask("smtp://u:hunter2@h:25") == "smtp://u:****@h:25"
    assert mask("postgresql://mb@db:5432/mb") == "postgresql://mb@db:5432/mb"  # nothing secret in it
    assert mask("1:abcdef") == "****"
    assert mask("") == "(not set)"
    secret_names = {i.name for i in settings_table() if i.secret}
    assert {"secret_keys", "credentials_key", "upstream_smtp", "database_url"} <= secret_names


def test_every_setting_that_can_hold_a_secret_is_marked_secret() -> None:
    """A new key, password or URL with credentials is masked too, once it is marked; this says so."""
    kinds = {f.name: f.metadata["kind"] for f in dataclasses.fields(Settings)}
    for i in settings_table():
        named_like_one = re.search(r"key|secret|password|token|credential", i.name) and kinds[i.name] != "path"
        may_hold_secret = named_like_one or (kinds[i.name] in ("url", "smtp_url") and i.name != "public_url")
        assert i.secret or not may_hold_secret, f"{i.name} may hold a secret: mark it secret=True"


SECRETS = {
    "database_url": "postgresql://mb:db-pw-4711@127.0.0.1:5432/mb",
    "upstream_smtp": "smtp+starttls://relay:smtp-pw-4711@smtp.example.com:587",
    "secret_keys": "1:c2VjcmV0LWtleS00NzExLWxvbmctZW5vdWdo",
    "credentials_key": "Y3JlZGVudGlhbHMta2V5LTQ3MTEtMzItYnl0ZXMhIQ",
}
NEVER = ("db-pw-4711", "smtp-pw-4711", "c2VjcmV0LWtleS00NzEx", "Y3JlZGVudGlhbHMta2V5")


def test_a_secret_never_shows_in_repr_or_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    s = load_settings(environ={}, overrides=SECRETS)
    assert {n for n in SECRETS} == {i.name for i in settings_table() if i.secret}  # every secret is tried
    shown = [repr(s), str(s), f"{s!r}", repr([s]), *(str(s.shown(n)) for n in SECRETS)]
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("mailbeacon.test").info("starting with %s", s)
        logging.getLogger("mailbeacon.test").info("settings: %r", {"settings": s})
    shown += [r.getMessage() for r in caplog.records]
    for text in shown:
        assert not [n for n in NEVER if n in text], text
    assert "relay:****@smtp.example.com:587" in repr(s) and "mb:****@127.0.0.1" in repr(s)
    assert "http='127.0.0.1:8025'" in repr(s)  # the rest is shown as it is


def test_config_command_masks_every_secret(cli: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        if name != "database_url":  # the cli fixture's database stays
            monkeypatch.setenv("MAILBEACON_" + name.upper(), value)
    for args in (("config",), ("config", "--json"), ("--set", f"database_url={SECRETS['database_url']}", "config")):
        code, out, err = cli(*args)
        assert code == 0, err
        assert not [n for n in NEVER if n in out + err], out
        assert "smtp.example.com" in out and "****" in out


def test_docs_list_every_setting_and_are_current() -> None:
    text = DOCS.read_text()
    for info in settings_table():
        assert f"`{info.name}`" in text, f"{info.name} missing from docs/configuration.md"
        assert f"MAILBEACON_{info.name.upper()}" in text
    assert settings_markdown() in text, "docs/configuration.md is out of date: regenerate the table"
