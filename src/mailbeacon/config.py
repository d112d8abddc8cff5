"""Settings: one table (the `Settings` dataclass), read once.

Each field is a setting: its name, type, default and help text live together here.
Sources, lowest precedence first: defaults, a TOML file (`--config`), `MAILBEACON_<NAME>`
environment variables, command-line flags — the more explicit and the closer to this one run,
the later it wins, as with most tools. `docs/configuration.md` lists every setting and a test
checks it stays complete.

A secret (a field marked `secret`: passwords in URLs, keys) never shows in full: `repr()`,
`Settings.shown()` and `mailbeacon config` mask it, so it cannot reach a log line either.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from .errors import ConfigError

ENV_PREFIX = "MAILBEACON_"
APP_NAME = "mailbeacon"


def platform_data_dir() -> Path:
    """Where data lives by default: the platform's convention (XDG_DATA_HOME on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_config_file() -> Path:
    """The settings file read when no `--config` is given (if it exists): XDG_CONFIG_HOME on Linux."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def _s(default: Any, help: str, *, kind: str = "", secret: bool = False, choices: tuple[str, ...] = ()) -> Any:
    return field(default=default, metadata={"help": help, "kind": kind, "secret": secret, "choices": choices})


@dataclass(frozen=True, repr=False)
class Settings:
    """Every setting of mailbeacon. Build with `load_settings()`; never mutate."""

    database_url: str = _s(
        "",
        "Where data lives: `sqlite:///path.db` (embedded) or `postgresql://user@host:5432/db`. "
        "Default: `mailbeacon.db` (SQLite) in `data_dir`, so every directory sees the same data.",
        kind="url",
        secret=True,  # its password, if any
    )
    http: str = _s("127.0.0.1:8025", "host:port the HTTP server (tracking, API) listens on.", kind="hostport")
    smtp: str = _s(
        "127.0.0.1:2525",
        "host:port of the SMTP submission proxy; `off` to run without it.",
        kind="hostport_or_off",
    )
    public_url: str = _s(
        "",
        "Base URL written into tracking links (e.g. `https://t.example.com`). Default: `http://` + the `http` setting.",
        kind="url",
    )
    upstream_smtp: str = _s(
        "",
        "Where the proxy relays mail: `smtp://[user:pass@]host:port`, `smtps://...` (TLS) or "
        "`smtp+starttls://...`. Users may have their own credentials.",
        kind="smtp_url",
        secret=True,
    )
    trusted_proxies: tuple[str, ...] = _s(
        (),
        "Comma-separated CIDRs of reverse proxies / load balancers whose `X-Forwarded-For` is believed.",
        kind="cidrs",
    )
    secret_keys: str = _s(
        "",
        "Token signing keys `1:<base64url>,2:<base64url>`; the highest id signs, all verify. "
        "Generated on first start when empty and stored in the database, encrypted with `credentials_key`.",
        secret=True,
    )
    credentials_key: str = _s(
        "",
        "Key (base64url, 32 bytes) that encrypts stored upstream SMTP and IMAP passwords and token signing keys. "
        "When empty, one is generated into `<data_dir>/credentials.key` (mode 0600).",
        secret=True,
    )
    data_dir: str = _s(
        "",
        "Directory for the default database, the hit journal, generated keys and this node's copies of "
        "the signing keys and tracked links (so clicks land while the database is away). Default: the "
        "platform's user data directory (`~/.local/share/mailbeacon` on Linux, `~/Library/Application "
        "Support/mailbeacon` on macOS), or `<file>.data` beside the SQLite file that `database_url` names.",
        kind="path",
    )
    http_server: str = _s(
        "granian",
        "HTTP server implementation: `granian` (fastest) or `uvicorn`.",
        choices=("granian", "uvicorn"),
    )
    writer_batch_size: int = _s(500, "Hits committed to the database per transaction, at most.")
    writer_interval: float = _s(0.05, "Seconds the writer waits to gather a batch, at most.")
    queue_size: int = _s(50_000, "Hits held in memory before the writer reads them back from the on-disk journal.")
    settle_window: float = _s(
        120.0, "Seconds during which later evidence may still revise a verdict; counters use settled ones."
    )
    self_view_window: float = _s(
        10.0, "Seconds after a self-view beacon during which pixel hits of that recipient are the sender's."
    )
    session_idle: float = _s(
        12 * 3600.0,
        "Seconds a dashboard session may go unused before it expires and the browser signs in again (12 hours).",
    )
    session_lifetime: float = _s(
        14 * 86400.0, "Seconds a dashboard session lasts at most after signing in, however much it is used (14 days)."
    )
    decoy_link: bool = _s(True, "Add one hidden decoy link per recipient copy; a hit on it marks a scanner.")
    rewrite_text: bool = _s(False, "Also rewrite http(s) URLs in text/plain parts.")
    track_opens: bool = _s(True, "Server-wide default for open tracking (workspaces and users may override).")
    track_clicks: bool = _s(True, "Server-wide default for click tracking (workspaces and users may override).")
    track_replies: bool = _s(True, "Server-wide default for reply tracking (workspaces and users may override).")
    smtp_tls_cert: str = _s("", "PEM certificate for STARTTLS on the submission proxy.", kind="path")
    smtp_tls_key: str = _s("", "PEM private key for STARTTLS on the submission proxy.", kind="path")
    smtp_max_size: int = _s(35 * 1024 * 1024, "Largest message the proxy accepts, in bytes (SMTP SIZE).")
    smtp_timeout: float = _s(60.0, "Seconds to wait for the upstream SMTP server.")
    imap_poll_interval: float = _s(
        60.0, "Seconds between mailbox checks when a server has no IDLE (and IDLE renewals)."
    )
    pipeline_busy_rate: int = _s(
        2000,
        "Incoming hits per second above which classification waits (at most 30 s at a time) so that "
        "answering stays fast; it catches up when the burst is over.",
    )
    webhook_delivery: bool = _s(
        True,
        "Whether this node sends webhook deliveries (turn it off on a node that cannot reach the receivers; "
        "another node sends them).",
    )
    webhook_allow_private: bool = _s(
        False,
        "Allow webhook receivers on loopback, private, link-local and shared (CGNAT) addresses (a receiver "
        "on this machine or its network). Off, they are refused at delivery time, after DNS resolution (SSRF).",
    )
    webhook_timeout: float = _s(10.0, "Seconds a webhook receiver has to answer a delivery.")
    click_cache_size: int = _s(100_000, "Link URLs kept in memory for redirects.")
    stream_keepalive: float = _s(
        15.0, "Seconds between keep-alive comments on an idle live stream (GET /api/v1/events/stream)."
    )
    log_level: str = _s("info", "Log level.", choices=("debug", "info", "warning", "error"))

    # -- derived -------------------------------------------------------------------------------

    def shown(self, name: str) -> Any:
        """The value of setting `name` as it may be printed or logged: a secret is masked."""
        value = getattr(self, name)
        return mask(value) if _FIELDS[name].metadata["secret"] else value

    def __repr__(self) -> str:
        return "Settings(" + ", ".join(f"{name}={self.shown(name)!r}" for name in _FIELDS) + ")"

    @property
    def effective_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host, port = split_hostport(self.http)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    @property
    def effective_data_dir(self) -> Path:
        if self.data_dir:
            return Path(self.data_dir).expanduser()
        if self.database_url.startswith("sqlite:///"):
            path = self.database_url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                p = Path(path)
                return p.with_name(p.name + ".data")
        return platform_data_dir()

    @property
    def effective_database_url(self) -> str:
        """`database_url`, or the SQLite file `mailbeacon.db` in the data directory."""
        return self.database_url or f"sqlite:///{self.effective_data_dir / 'mailbeacon.db'}"


_FIELDS = {f.name: f for f in fields(Settings)}


@dataclass(frozen=True)
class SettingInfo:
    name: str
    type: str
    default: Any
    help: str
    secret: bool
    choices: tuple[str, ...]


def settings_table() -> list[SettingInfo]:
    out = []
    for f in fields(Settings):
        out.append(
            SettingInfo(
                name=f.name,
                type=_type_name(f.type),
                default=f.default,
                help=f.metadata["help"],
                secret=f.metadata["secret"],
                choices=f.metadata["choices"],
            )
        )
    return out


def _type_name(t: Any) -> str:
    s = str(t)
    return {"tuple[str, ...]": "list"}.get(s, s)


def split_hostport(value: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` → (host, port)."""
    v = value.strip()
    if v.startswith("["):
        host, sep, rest = v[1:].partition("]")
        port_s = rest.removeprefix(":")
    else:
        host, sep, port_s = v.rpartition(":")
    if not sep or not port_s.isdigit() or not host:
        raise ConfigError(f"'{value}' is not host:port (for example 127.0.0.1:8025)")
    port = int(port_s)
    if not 0 <= port <= 65535:
        raise ConfigError(f"port {port} in '{value}' is out of range")
    return host, port


def _parse(name: str, type_name: str, raw: Any) -> Any:
    """Turn a raw value (string from env/flags, or a TOML value) into the field's type."""
    if type_name == "bool":
        if isinstance(raw, bool):
            return raw
        s = str(raw).strip().lower()
        if s in ("1", "true", "yes", "on"):
            return True
        if s in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"setting {name} must be true or false, not '{raw}'")
    if type_name == "int":
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"setting {name} must be a whole number, not '{raw}'") from None
    if type_name == "float":
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"setting {name} must be a number, not '{raw}'") from None
    if type_name == "list":
        if isinstance(raw, list | tuple):
            return tuple(str(x).strip() for x in raw if str(x).strip())
        return tuple(x.strip() for x in str(raw).split(",") if x.strip())
    return str(raw)


def _validate(s: Settings) -> None:
    by_name = {f.name: f for f in fields(Settings)}
    for name, f in by_name.items():
        value = getattr(s, name)
        choices = f.metadata["choices"]
        if choices and value not in choices:
            raise ConfigError(f"setting {name} must be one of {', '.join(choices)}, not '{value}'")
        kind = f.metadata["kind"]
        if kind == "hostport" or (kind == "hostport_or_off" and value not in ("", "off")):
            split_hostport(value)
        elif kind == "cidrs":
            for cidr in value:
                try:
                    ipaddress.ip_network(cidr, strict=False)
                except ValueError:
                    raise ConfigError(f"trusted_proxies: '{cidr}' is not an IP network (e.g. 10.0.0.0/8)") from None
        elif kind == "smtp_url" and value:
            u = urlsplit(value)
            if u.scheme not in ("smtp", "smtps", "smtp+starttls") or not u.hostname:
                raise ConfigError(
                    "upstream_smtp must look like smtp://[user:pass@]host:port, smtps://... or smtp+starttls://..."
                )
        elif kind == "url" and value and name == "public_url":
            u = urlsplit(value)
            if u.scheme not in ("http", "https") or not u.netloc:
                raise ConfigError("public_url must be an http(s) URL such as https://t.example.com")
    for name in ("writer_batch_size", "queue_size", "smtp_max_size", "click_cache_size", "pipeline_busy_rate"):
        if getattr(s, name) <= 0:
            raise ConfigError(f"setting {name} must be positive")
    for name in (
        "writer_interval",
        "settle_window",
        "self_view_window",
        "session_idle",
        "session_lifetime",
        "smtp_timeout",
        "imap_poll_interval",
        "stream_keepalive",
        "webhook_timeout",
    ):
        if getattr(s, name) <= 0:
            raise ConfigError(f"setting {name} must be positive")


def load_settings(
    *,
    environ: Mapping[str, str] | None = None,
    config_file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the effective settings: defaults < TOML file < environment < overrides (flags)."""
    env = os.environ if environ is None else environ
    table = {i.name: i for i in settings_table()}
    values: dict[str, Any] = {}
    if config_file:
        path = Path(config_file)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
        section = data.get("mailbeacon", data)
        for name, raw in section.items():
            if name not in table:
                raise ConfigError(f"config file {path}: unknown setting '{name}' (see `mailbeacon config`)")
            values[name] = _parse(name, table[name].type, raw)
    for name, info in table.items():
        key = ENV_PREFIX + name.upper()
        if key in env:
            values[name] = _parse(name, info.type, env[key])
    for name, raw in (overrides or {}).items():
        if raw is None:
            continue
        if name not in table:
            raise ConfigError(f"unknown setting '{name}'")
        values[name] = _parse(name, table[name].type, raw)
    settings = Settings(**values)
    _validate(settings)
    return settings


def mask(value: Any) -> str:
    """How a secret is shown: never the value itself (a URL keeps all but its password)."""
    if not value:
        return "(not set)"
    if isinstance(value, str) and "://" in value:
        try:
            u = urlsplit(value)
            password = u.password
        except ValueError:  # not a URL after all
            return "****"
        if password:
            return value.replace(f":{password}@", ":****@")
        return value
    return "****"


def settings_markdown() -> str:
    """The settings table as Markdown (docs/configuration.md embeds it; a test keeps it current)."""
    lines = ["| setting | type | default | environment variable | what it does |", "|---|---|---|---|---|"]
    for i in settings_table():
        default = i.default
        if isinstance(default, tuple):
            default = ",".join(default)
        shown = f"`{default}`" if default not in ("", ()) else "(empty)"
        if i.choices:
            shown += " — one of " + ", ".join(f"`{c}`" for c in i.choices)
        help_text = i.help.replace("|", "\\|")
        lines.append(f"| `{i.name}` | {i.type} | {shown} | `{ENV_PREFIX}{i.name.upper()}` | {help_text} |")
    return "\n".join(lines) + "\n"
