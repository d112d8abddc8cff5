"""/api/v1/webhooks on a running `mailbeacon serve` (real HTTP on loopback) and `mailbeacon webhook`:
the secret shown once, admins change, members read, the test event reaches a real receiver signed,
the delivery log, one-sentence errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api_world import World, start_world
from conftest import Run
from test_cli_errors import _one_sentence
from webhook_receiver import Receiver

DOCS = Path(__file__).parent.parent / "docs" / "webhooks.md"
DOCS_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def run_docs_snippet(secret: str, body: bytes, headers: dict[str, str], seen: set[str]) -> list[Any]:
    """The verification snippet of docs/webhooks.md, run as written (with this endpoint's secret)."""
    code = DOCS.read_text().split("```python\n", 1)[1].split("```", 1)[0]
    assert DOCS_SECRET in code
    handled: list[Any] = []
    ns: dict[str, Any] = {"already_handled": seen.__contains__, "handle": lambda *a: handled.append(a)}
    exec(code.replace(DOCS_SECRET, secret), ns)
    ns["receive"](body, headers)
    return handled


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from start_world(tmp_path_factory.mktemp("hooks"), webhook_allow_private="true")


def test_an_admin_adds_tests_reads_the_log_of_and_removes_an_endpoint(world: World) -> None:
    with Receiver() as receiver, world.client("bert") as b:
        made = b.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["open", "reply"], "description": "CRM"})
        assert made.status_code == 201, made.text
        hook = made.json()
        secret = hook["secret"]
        assert secret.startswith("whsec_") and hook["enabled"] is True and hook["events"] == ["open", "reply"]
        shown = b.get(f"/api/v1/webhooks/{hook['id']}").json()
        assert "secret" not in shown and shown["description"] == "CRM"  # shown once
        assert secret not in b.get("/api/v1/webhooks").text
        assert hook["id"] in {h["id"] for h in b.get("/api/v1/webhooks").json()}

        sent = b.post(f"/api/v1/webhooks/{hook['id']}/test")
        assert sent.status_code == 200, sent.text
        delivery = sent.json()
        assert (delivery["state"], delivery["last_status"], delivery["type"]) == ("delivered", 200, "test")
        (got,) = receiver.received
        body = got.verified(secret)  # signed with the secret shown at creation
        assert body["type"] == "test" and body["data"]["webhook_id"] == hook["id"]
        assert got.webhook_id == delivery["msg_id"] and got.headers["user-agent"].startswith("mailbeacon")
        assert run_docs_snippet(secret, got.body, got.headers, set()) == [("test", body["data"])]
        assert run_docs_snippet(secret, got.body, got.headers, {got.webhook_id}) == []  # a retry: ignored
        with pytest.raises(PermissionError):
            run_docs_snippet(secret, got.body.replace(b"test", b"open"), got.headers, set())
        log = b.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()
        assert [d["id"] for d in log["items"]] == [delivery["id"]] and log["next_cursor"] is None
        assert log["items"][0]["payload"] == body

        changed = b.patch(f"/api/v1/webhooks/{hook['id']}", json={"events": [], "enabled": False})
        assert changed.status_code == 200 and changed.json()["events"] == [] and not changed.json()["enabled"]
        assert b.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 204
        assert b.get(f"/api/v1/webhooks/{hook['id']}").status_code == 404
        assert b.get(f"/api/v1/webhooks/{hook['id']}/deliveries").status_code == 404


def test_a_failed_test_event_says_why_and_does_not_count_against_the_endpoint(world: World) -> None:
    with Receiver(default=500) as receiver, world.client("bert") as b:
        hook = b.post("/api/v1/webhooks", json={"url": receiver.url}).json()
        delivery = b.post(f"/api/v1/webhooks/{hook['id']}/test").json()
        assert (delivery["state"], delivery["last_status"]) == ("failed", 500)
        assert delivery["last_error"] == "the receiver answered 500" and delivery["next_attempt_at"] is None
        after = b.get(f"/api/v1/webhooks/{hook['id']}").json()
        assert after["enabled"] is True and after["failing_since"] is None
        b.delete(f"/api/v1/webhooks/{hook['id']}")


def test_members_read_endpoints_but_only_admins_change_them(world: World) -> None:
    w = world
    with w.client("carol") as c:
        assert w.webhook in {h["id"] for h in c.get("/api/v1/webhooks").json()}
        for method, path, body in (
            ("post", "/api/v1/webhooks", {"url": "https://hooks.example.com/x"}),
            ("patch", f"/api/v1/webhooks/{w.webhook}", {"description": "mine now"}),
            ("delete", f"/api/v1/webhooks/{w.webhook}", None),
            ("post", f"/api/v1/webhooks/{w.webhook}/test", None),
        ):
            r = c.request(method, path, json=body)
            assert r.status_code == 403 and r.json()["code"] == "forbidden", (method, path, r.text)
    assert w.rt.store.webhook(w.webhook).description == "A's"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://hooks.example.com/x", "is not an http:// or https:// URL with a host"),
        ("https://u:p@hooks.example.com/x", "cannot hold a user name or password"),
        ("http://hooks.example.com:70000/", "is not a valid URL"),
    ],
)
def test_a_url_that_is_no_receiver_is_refused_in_one_sentence(world: World, url: str, says: str) -> None:
    with world.client("bert") as b:
        r = b.post("/api/v1/webhooks", json={"url": url})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert says in r.json()["detail"] and r.json()["code"] == "invalid_input"


def test_healthz_reports_the_webhook_worker(world: World) -> None:
    health = httpx.get(f"{world.url}/healthz").json()
    assert health["ok"] is True
    assert health["webhooks"]["running"] is True and health["webhooks"]["stalled"] is False


def test_the_webhook_commands(cli: Run) -> None:
    from mailbeacon.cli.base import app  # noqa: F401  (the commands are registered)

    assert cli("workspace", "add", "acme", "--domain", "acme.test")[0] == 0
    _one_sentence(*cli("webhook", "add", "ftp://x.example/", "--workspace", "acme"))
    _one_sentence(*cli("webhook", "add", "https://x.example/", "--workspace", "acme", "--event", "nope"))
    _one_sentence(*cli("webhook", "add", "https://x.example/", "--workspace", "nowhere"))
    _one_sentence(*cli("webhook", "test", "999"))
    _one_sentence(*cli("webhook", "deliveries", "999"))
    _one_sentence(*cli("webhook", "remove", "999"))
    with Receiver([503]) as receiver:
        code, out, err = cli("webhook", "add", receiver.url, "--workspace", "acme", "--event", "click", "-d", "BI")
        assert code == 0, err
        assert "Signing secret (shown only now): whsec_" in out and "sends click of workspace 'acme'" in out
        hook_id = out.split()[1]
        code, out, err = cli("webhook", "test", hook_id)  # not allowed: the receiver is on loopback
        _one_sentence(code, out, err)
        assert "127.0.0.1 (loopback)" in err and "webhook_allow_private" in err
        code, out, err = cli("--set", "webhook_allow_private=true", "webhook", "test", hook_id)
        _one_sentence(code, out, err)
        assert "the receiver answered 503" in err
        code, out, err = cli("--set", "webhook_allow_private=true", "webhook", "test", hook_id)
        assert code == 0 and "was delivered (200)" in out, err
        assert len(receiver.received) == 2
    code, out, _ = cli("webhook", "list", "--json")
    assert code == 0 and '"events": [\n      "click"\n    ]' in out and '"enabled": true' in out
    code, out, _ = cli("webhook", "list")
    assert code == 0 and receiver.url in out and "click" in out
    code, out, _ = cli("webhook", "deliveries", hook_id, "--json")
    assert code == 0 and out.count('"type": "test"') == 3 and '"state": "delivered"' in out
    code, out, _ = cli("webhook", "deliveries", hook_id)
    assert code == 0 and "the receiver answered 503" in out
    code, out, _ = cli("webhook", "remove", hook_id)
    assert code == 0 and f"Webhook {hook_id} removed." in out
