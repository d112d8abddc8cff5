"""Settings: one table, four sources in a fixed order, clear errors, docs kept complete."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailbeacon.config import (
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


def test_precedence_env_then_file_then_flags(tmp_path: Path) -> None:
    env = {"MAILBEACON_HTTP": "0.0.0.0:1", "MAILBEACON_SMTP": "0.0.0.0:2", "MAILBEACON_LOG_LEVEL": "debug"}
    cfg = tmp_path / "m.toml"
    cfg.write_text('http = "0.0.0.0:3"\nsmtp = "0.0.0.0:4"\ntrusted_proxies = ["10.0.0.0/8", "::1/128"]\n')
    s = load_settings(environ=env, config_file=cfg, overrides={"smtp": "off"})
    assert s.log_level == "debug"  # env only
    assert s.http == "0.0.0.0:3"  # file beats env
    assert s.smtp == "off"  # flag beats file
    assert s.trusted_proxies == ("10.0.0.0/8", "::1/128")


def test_file_with_section_and_types(tmp_path: Path) -> None:
    cfg = tmp_path / "m.toml"
    cfg.write_text("[mailbeacon]\ndecoy_link = false\nsettle_window = 30\nwriter_batch_size = 10\n")
    s = load_settings(environ={"MAILBEACON_DECOY_LINK": "yes"}, config_file=cfg)
    assert s.decoy_link is False
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
    assert mask("1:abcdef") == "****"
    assert mask("") == "(not set)"
    secret_names = {i.name for i in settings_table() if i.secret}
    assert {"secret_keys", "credentials_key", "upstream_smtp"} <= secret_names


def test_docs_list_every_setting_and_are_current() -> None:
    text = DOCS.read_text()
    for info in settings_table():
        assert f"`{info.name}`" in text, f"{info.name} missing from docs/configuration.md"
        assert f"MAILBEACON_{info.name.upper()}" in text
    assert settings_markdown() in text, "docs/configuration.md is out of date: regenerate the table"
