"""What an operator reads at INFO: one line per relay and per failed sign-in, naming messages and
users by id and never a recipient's address; a warning when recipients cannot reach the links."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mailbeacon.reachability import public_url_problems, public_url_warning
from mailbeacon.runtime import Runtime
from mailbeacon.smtp import SmtpProxy, start_smtp_proxy
from test_smtp_proxy import Sink, login, make_runtime, proxy, sink, swaks, write_message

__all__ = ["proxy", "sink"]  # fixtures used here


@pytest.mark.swaks
async def test_relays_and_failed_sign_ins_are_logged_without_addresses(
    proxy: tuple[SmtpProxy, Runtime], sink: tuple[Sink, int], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mailbeacon")
    p, rt = proxy
    path = write_message(tmp_path, "<p>x</p>", To="bob@client.test, carol@client.test")
    rc, out = await swaks(
        p.port, "--from", "alice@acme.test", "--to", "bob@client.test,carol@client.test", "--data", f"@{path}"
    )
    assert rc == 0, out
    rc, _ = await swaks(
        p.port,
        "--from",
        "alice@acme.test",
        "--to",
        "bob@client.test",
        "--data",
        f"@{path}",
        *login("wrong"),
        auth=False,
    )
    assert rc != 0
    rc, _ = await swaks(
        p.port,
        "--from",
        "x@y.test",
        "--to",
        "bob@client.test",
        "--data",
        f"@{path}",
        *login("pw", user="nobody@acme.test"),
        auth=False,
    )
    assert rc != 0
    await p.idle()
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO and r.name.startswith("mailbeacon")]
    (message,) = rt.store.messages()
    user = rt.store.user("alice@acme.test")
    assert f"relayed message {message.id} of user {user.id}: 2 delivered, 0 not delivered" in lines
    assert f"SMTP sign-in failed: wrong password for user {user.id}" in lines
    assert "SMTP sign-in failed: no user with that login" in lines
    everything = "\n".join(lines)
    assert "bob@client.test" not in everything and "carol@client.test" not in everything


async def test_the_proxy_log_warns_about_an_unreachable_public_url(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mailbeacon")
    rt = make_runtime(runtime, smtp="127.0.0.1:0", public_url="http://127.0.0.1:8025")
    p = await start_smtp_proxy(rt)
    await p.stop()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("http://127.0.0.1:8025" in w and "loopback" in w and "docs/deploy.md" in w for w in warnings)
    caplog.clear()
    rt = make_runtime(runtime, smtp="127.0.0.1:0", public_url="https://t.example.com")
    p = await start_smtp_proxy(rt)
    await p.stop()
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://127.0.0.1:8025", ["loopback", "plain http"]),
        ("https://localhost", ["loopback"]),
        ("https://[::1]:8443", ["loopback"]),
        ("https://10.1.2.3", ["private"]),
        ("https://192.168.1.5:8025", ["private"]),
        ("https://tracker.lan", ["local name"]),
        ("https://tracker", ["local name"]),
        ("http://t.example.com", ["plain http"]),
        ("https://t.example.com", []),
        ("https://93.184.216.34", []),
    ],
)
def test_public_url_problems(url: str, words: list[str]) -> None:
    problems = " ".join(public_url_problems(url))
    assert all(w in problems for w in words) and (bool(words) == bool(problems))
    warning = public_url_warning(url)
    assert (warning is None) == (not words)
    if warning:
        assert warning.startswith("Tracking links use ") and warning.endswith("(see docs/deploy.md).")


@pytest.mark.swaks
async def test_notrack_in_the_subject_through_the_proxy(
    proxy: tuple[SmtpProxy, Runtime], sink: tuple[Sink, int], tmp_path: Path
) -> None:
    """What a desktop client can do: write [notrack] in the subject. It goes out untracked, without it."""
    p, rt = proxy
    path = write_message(tmp_path, "<p>Hi <a href='https://shop.test/'>shop</a></p>", To="bob@client.test")
    path.write_bytes(path.read_bytes().replace(b"Subject: Offer", b"Subject: [notrack] Offer"))
    rc, out = await swaks(p.port, "--from", "alice@acme.test", "--to", "bob@client.test", "--data", f"@{path}")
    assert rc == 0, out
    (got,) = sink[0].received
    sent = got.message()
    assert sent["Subject"] == "Offer"
    assert b"/o/" not in got.data and b"/c/" not in got.data and b"href='https://shop.test/'" in got.data
    (message,) = rt.store.messages()
    assert message.tracking["opens"] is False and "opens-off-email" in message.tracking["reasons"]  # type: ignore[operator]
