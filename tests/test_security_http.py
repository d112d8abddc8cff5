"""The HTTP surface's defences (issue 9): no input reaches a 500, bodies are limited while they
stream, Basic sign-ins are throttled, self-view beacons take only pixel tokens and count once.

The fuzz test enumerates the app's own route table (Starlette's `ROUTES` plus the raw tracking
routes), so a route added later is fuzzed without touching this file.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Mount, Route

from conftest import FakeClock, wait_stored
from mailbeacon.devices import sign_beacon
from mailbeacon.intake import Intake
from mailbeacon.model import HitKind
from mailbeacon.pipeline import Pipeline
from mailbeacon.runtime import Runtime
from mailbeacon.throttle import PER_ADDRESS
from mailbeacon.web.app import ROUTES, create_app
from mailbeacon.web.body import JSON_LIMIT
from mailbeacon.web.problems import STATUS
from mailbeacon.web.rest import build_api
from mailbeacon.web.tracking import TRACKING_ROUTES
from seeding import PASSWORD, Seeded, click_token, open_token, seed_message

BOB = "bob@client.example"
ALICE = "alice@acme.test"


def basic(email: str, password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()}


class Api:
    def __init__(self, rt: Runtime, intake: Intake, client: httpx.AsyncClient, seeded: Seeded) -> None:
        self.rt, self.intake, self.client, self.seeded = rt, intake, client, seeded

    async def hits(self) -> list[Any]:
        assert await asyncio.to_thread(wait_stored, self.intake)
        return [sv.hit for sv in self.rt.store.hits_with_verdicts()]

    async def pair(self) -> dict[str, Any]:
        r = await self.client.post("/api/v1/devices", json={"kind": "extension"}, headers=basic(ALICE))
        assert r.status_code == 201, r.text
        self.client.cookies.clear()
        data: dict[str, Any] = r.json()
        return data


@pytest.fixture
async def api(runtime: Runtime, tmp_path: Path) -> AsyncIterator[Api]:
    intake = Intake(runtime.store, tmp_path / "journal", interval=0.01)
    intake.start(asyncio.get_running_loop())
    transport = httpx.ASGITransport(app=create_app(runtime, intake, Pipeline(runtime)), client=("192.0.2.1", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://t.example.test") as client:
        yield Api(runtime, intake, client, seed_message(runtime))
    await intake.stop()


# -- the inputs the probe found answered 500 ----------------------------------------------------


async def test_non_ascii_basic_credentials_are_a_401(api: Api) -> None:
    for value in (b"Basic \xc3\xa9t\xc3\xa9", b"Basic " + base64.b64encode(b"\xff\xfe:\xff"), b"Basic !!!"):
        r = await api.client.get("/api/v1/messages", headers={b"authorization": value})
        assert r.status_code == 401, (value, r.text)
        assert "malformed Basic credentials" in r.json()["error"]


async def test_deeply_nested_json_is_a_400(api: Api) -> None:
    for body in (b"[" * 50_000, b'{"a":' * 20_000 + b"1" + b"}" * 20_000):
        r = await api.client.post("/api/v1/self-view", content=body[: JSON_LIMIT - 1])
        assert r.status_code == 400, r.text
        assert "not JSON" in r.json()["error"]


async def test_absurd_beacon_times_and_non_ascii_signatures_are_refused(api: Api) -> None:
    paired = await api.pair()
    token = open_token(api.rt, api.seeded, BOB)
    device = paired["device_id"]
    for raw_ts in ("1e999", "-1e999", "1e18", "true", "[1]", '"12x"', "NaN", "Infinity"):
        body = f'{{"token": "{token}", "device": "{device}", "ts": {raw_ts}, "sig": "x"}}'
        r = await api.client.post("/api/v1/self-view", content=body.encode())
        assert r.status_code in (400, 401), (raw_ts, r.text)
    ts = int(api.rt.clock().timestamp())
    for sig in ("é" * 43, "\udcff", "\x00"):  # json.dumps escapes the lone surrogate as \udcff
        body = json.dumps({"token": token, "device": device, "ts": ts, "sig": sig})
        r = await api.client.post("/api/v1/self-view", content=body.encode())
        assert r.status_code == 401, (sig, r.text)
    assert await api.hits() == []


async def test_ids_beyond_64_bits_and_non_ascii_digits_are_refused(api: Api) -> None:
    # REST v1 (issue 13) validates ids against the schema: 422 `invalid_request`, never a look-up
    for mid in ("99999999999999999999999999", str(2**63), "0", "-1", "\u0661\u0662", "1e3", "9" * 5000):
        r = await api.client.get(f"/api/v1/messages/{mid}", headers=basic(ALICE))
        assert r.status_code == 422 and r.json()["code"] == "invalid_request", (mid, r.text)
        r = await api.client.get(f"/api/v1/messages/{mid}/hits", headers=basic(ALICE))
        assert r.status_code == 422, (mid, r.text)
    r = await api.client.get(f"/api/v1/messages/{2**63 - 1}", headers=basic(ALICE))
    assert r.status_code == 404
    r = await api.client.delete("/api/v1/devices/" + "%00\u00e9" * 50, headers=basic(ALICE))
    assert r.status_code == 422


async def test_a_limit_outside_1_to_200_is_refused(api: Api) -> None:
    for limit in ("-1", "0", "x", "\u0661", "-99999999999999", "201", "9" * 5000):
        r = await api.client.get("/api/v1/messages", params={"limit": limit}, headers=basic(ALICE))
        assert r.status_code == 422, (limit, r.text)
        assert r.json()["code"] == "invalid_request" and "limit" in r.json()["detail"]
    for _ in range(3):
        seed_message(api.rt, user=api.seeded.user)
    r = await api.client.get("/api/v1/messages", params={"limit": "2"}, headers=basic(ALICE))
    assert r.status_code == 200 and len(r.json()["items"]) == 2 and r.json()["next_cursor"]


async def test_a_device_cookie_with_unicode_digits_is_not_a_500(api: Api) -> None:
    token = open_token(api.rt, api.seeded, BOB)
    cookie = {b"cookie": "mb_device=dv_x.\u00b2.AAAA".encode("latin-1")}  # '²'.isdigit() is True
    r = await api.client.post("/api/v1/self-view", json={"token": token}, headers=cookie)
    assert r.status_code == 401
    r = await api.client.get(f"/o/{token}", headers=cookie)
    assert r.status_code == 200


# -- body limits ----------------------------------------------------------------------------


async def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(api: Api) -> None:
    r = await api.client.post("/api/v1/self-view", content=b"{}", headers={"Content-Length": str(500 * 1024 * 1024)})
    assert r.status_code == 413
    assert r.json()["error"] == f"the request body is larger than {JSON_LIMIT} bytes"


async def test_a_chunked_body_over_the_limit_is_stopped_while_streaming(api: Api) -> None:
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        while sent < 50 * 1024 * 1024:
            sent += 16 * 1024
            yield b" " * (16 * 1024)

    r = await api.client.post("/api/v1/self-view", content=endless())
    assert r.status_code == 413
    assert sent <= JSON_LIMIT + 16 * 1024 * 2  # the app stopped reading right after the limit
    r = await api.client.post("/api/v1/inbound", content=endless(), headers=basic(ALICE))
    assert r.status_code == 413 and "smtp_max_size" in r.json()["error"]


async def test_every_error_answer_under_the_api_is_a_problem_detail(api: Api) -> None:
    """Whichever layer answers (the body limit, the principal edge, FastAPI's validation, a route,
    the pairing throttle): RFC 9457 with a stable code, never a bare {"error": ...}."""
    c = api.client
    answers = [
        await c.post("/api/v1/self-view", content=b"{}", headers={"Content-Length": str(10**9)}),  # body.py
        await c.post("/api/v1/self-view", content=b"{}", headers={"Content-Length": "2x"}),
        await c.post("/api/v1/inbound", content=b" " * (api.rt.settings.smtp_max_size + 1), headers=basic(ALICE)),
        await c.get("/api/v1/messages", headers={"Authorization": "Bearer mbt_nope"}),  # principal.py
        await c.get("/api/v1/messages"),  # the route
        await c.get("/api/v1/messages", params={"limit": 0}, headers=basic(ALICE)),  # validation
        await c.post("/api/v1/self-view", content=b"not json"),
        await c.post("/api/v1/devices/heartbeat", json={"sites": "mail.google.com"}),
        await c.get("/api/v1/nowhere"),
        await c.delete("/api/v1/me", headers=basic(ALICE)),
    ]
    answers += [await c.post("/api/v1/devices/pair", json={"code": "NOPE"}) for _ in range(11)]  # the throttle
    statuses = {STATUS_OF_CODE[r.json()["code"]] for r in answers}
    assert {400, 401, 404, 405, 413, 422, 429} <= statuses
    for r in answers:
        assert r.headers["content-type"] == "application/problem+json", (r.status_code, r.text)
        body = r.json()
        assert body["status"] == r.status_code and body["title"] and body["detail"], body
        assert STATUS_OF_CODE[body["code"]] == r.status_code, body


#: every stable code and its status (web/problems.py, and FastAPI's own answers)
STATUS_OF_CODE = {code: status for status, code, _ in STATUS.values()} | {
    "invalid_request": 422,
    "method_not_allowed": 405,
}


# -- throttling -------------------------------------------------------------------------------


async def test_failed_basic_sign_ins_are_throttled_with_retry_after(api: Api, clock: FakeClock) -> None:
    for _ in range(PER_ADDRESS.limit):
        r = await api.client.get("/api/v1/messages", headers=basic(ALICE, "wrong"))
        assert r.status_code == 401
    r = await api.client.get("/api/v1/messages", headers=basic(ALICE))  # the right password, too soon
    assert r.status_code == 429
    assert r.headers["retry-after"] == str(int(PER_ADDRESS.window))
    assert r.json()["error"] == "too many failed sign-ins; try again in 15 minutes"
    clock.advance(PER_ADDRESS.window / 2)
    r = await api.client.get("/api/v1/messages", headers=basic(ALICE))
    assert r.status_code == 429 and r.headers["retry-after"] == str(int(PER_ADDRESS.window / 2))
    clock.advance(PER_ADDRESS.window / 2 + 1)
    assert (await api.client.get("/api/v1/messages", headers=basic(ALICE))).status_code == 200


# -- self-view beacons ----------------------------------------------------------------------


async def test_a_self_view_beacon_refuses_click_and_decoy_tokens(api: Api) -> None:
    paired = await api.pair()
    ts = int(api.rt.clock().timestamp())
    r = api.seeded.rcpt(BOB)
    decoy = api.rt.keyring.sign(HitKind.DECOY, api.seeded.workspace.id, api.seeded.message.id, r.id)
    for token in (click_token(api.rt, api.seeded, BOB, 0), decoy):
        sig = sign_beacon(paired["secret"], paired["device_id"], token, ts)
        body = {"token": token, "device": paired["device_id"], "ts": ts, "sig": sig}
        resp = await api.client.post("/api/v1/self-view", json=body)
        assert resp.status_code == 400
        assert "pixel (open) token, not a link token" in resp.json()["error"]
    assert await api.hits() == []


async def test_a_self_view_beacon_cannot_be_replayed_inside_its_window(api: Api, clock: FakeClock) -> None:
    paired = await api.pair()
    token = open_token(api.rt, api.seeded, BOB)
    ts = int(clock().timestamp())
    body = {
        "token": token,
        "device": paired["device_id"],
        "ts": ts,
        "sig": sign_beacon(paired["secret"], paired["device_id"], token, ts),
    }
    assert (await api.client.post("/api/v1/self-view", json=body)).status_code == 204
    clock.advance(200)  # still inside the 5-minute window
    again = await api.client.post("/api/v1/self-view", json=body)
    assert again.status_code == 409 and "received already" in again.json()["error"]
    ts2 = int(clock().timestamp())
    fresh = {**body, "ts": ts2, "sig": sign_beacon(paired["secret"], paired["device_id"], token, ts2)}
    assert (await api.client.post("/api/v1/self-view", json=fresh)).status_code == 204
    clock.advance(400)  # past the window: the old beacon is refused for its time
    assert (await api.client.post("/api/v1/self-view", json=body)).status_code == 401
    assert len(await api.hits()) == 2


# -- every route, fuzzed ------------------------------------------------------------------------


@functools.cache
def api_routes() -> list[tuple[str, tuple[str, ...]]]:
    """Every route of the API app: REST v1 (FastAPI) and the plain Starlette `ROUTES` in it (built
    once: building the app takes a good part of a second, and the fuzz draws a route per example)."""
    app = build_api(cast(Runtime, None), cast(Intake, None), ROUTES)  # only its routes are read
    documented = [(path, tuple(sorted(m.upper() for m in ops))) for path, ops in app.openapi()["paths"].items()]
    pages = [("/api/v1/openapi.json", ("GET",)), ("/api/v1/docs", ("GET",)), ("/api/v1/self-view", ("OPTIONS",))]
    static = [(f"{r.path}/{{name}}", ("GET",)) for r in ROUTES if isinstance(r, Mount)]  # the dashboard's files
    return (
        documented + pages + static + [(r.path, tuple(sorted(r.methods or ()))) for r in ROUTES if isinstance(r, Route)]
    )


def all_routes() -> list[tuple[str, tuple[str, ...]]]:
    return api_routes() + [(p, tuple(m)) for p, m in TRACKING_ROUTES]


_PARAM = re.compile(r"\{(\w+)\}")
_text = st.text(st.characters(codec="utf-8", exclude_characters="/?#"), max_size=40)
_param = st.one_of(
    _text,
    st.integers(-(2**70), 2**70).map(str),
    st.just("9" * 30),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=20, max_size=60),
)
_json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), _text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_text, inner, max_size=4)),
    max_leaves=20,
)
_body = st.one_of(
    st.just(b""),
    st.binary(max_size=300),
    _json_value.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(st.sampled_from(["token", "device", "ts", "sig", "kind", "name"]), _json_value, max_size=6).map(
        lambda v: json.dumps(v).encode()
    ),
    st.integers(1, 5000).map(lambda n: b"[" * n),
    st.sampled_from([b'{"ts": 1e999}', b'{"ts": -0.0, "device": "dv_x", "sig": "\xc3\xa9"}', b"\xff\xfe"]),
)
_auth = st.one_of(
    st.none(),
    st.just(basic(ALICE)["Authorization"].encode()),
    st.binary(max_size=60).map(lambda b: b"Basic " + b),
    st.binary(max_size=60).map(lambda b: b"Basic " + base64.b64encode(b)),
    st.binary(max_size=60).map(lambda b: b"Bearer " + b),
)


class Fuzz:
    """One app and event loop for all examples (hypothesis calls the test body many times)."""

    def __init__(self, rt: Runtime, tmp_path: Path, seeded: Seeded) -> None:
        self.rt = rt
        self.tokens = [open_token(rt, seeded, BOB), click_token(rt, seeded, BOB, 1), click_token(rt, seeded, BOB, 9)]
        self.loop = asyncio.new_event_loop()
        self.intake = Intake(rt.store, tmp_path / "journal", interval=0.01)
        self.intake.start(self.loop)
        transport = httpx.ASGITransport(app=create_app(rt, self.intake, Pipeline(rt)), client=("192.0.2.7", 999))
        self.client = httpx.AsyncClient(transport=transport, base_url="http://t.example.test")

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        self.rt.__dict__.pop("sign_ins", None)  # each example starts unthrottled: more paths reached
        return self.loop.run_until_complete(self.client.request(method, path, **kwargs))

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.run_until_complete(self.intake.stop())
        self.loop.close()


@pytest.fixture
def fuzz(runtime: Runtime, tmp_path: Path) -> Iterator[Fuzz]:
    f = Fuzz(runtime, tmp_path, seed_message(runtime))
    yield f
    f.close()


def test_the_route_list_is_the_apps_own() -> None:
    paths = {p for p, _ in all_routes()}
    assert {"/o/{token}", "/c/{token}", "/api/v1/self-view", "/api/v1/inbound", "/healthz"} <= paths
    assert {"/api/v1/messages/{message_id}", "/api/v1/keys", "/signin", "/api/v1/openapi.json"} <= paths
    assert len(paths) == len({p for p, _ in api_routes()}) + len(TRACKING_ROUTES)


KNOWN_BAD_BODIES = [
    b"[" * 50_000,
    b'{"ts": 1e999, "device": "dv_x", "sig": "x", "token": "x"}',
    b'{"ts": -1e999, "device": "dv_x"}',
    b'{"ts": NaN, "device": "dv_x"}',
    b'{"ts": 1e18, "device": "dv_x"}',
    b'{"ts": "\\u0661", "device": "dv_x"}',
    b'{"ts": [1], "device": "dv_x", "last_acted": 1e999}',
    b'{"ts": 1, "device": "dv_x", "sig": "\\u00e9\\udcff", "code": "\\u00e9", "sites": [[[]]]}',
    b'{"code": 1e999, "kind": {"a": 1}, "name": [1], "token": 12}',
    b"\xff\xfe\x00",
]
KNOWN_BAD_AUTH = [
    b"Basic \xc3\xa9",
    b"Basic " + base64.b64encode(b"\xff:\xfe"),
    b"Bearer \xff",
    b"Basic " + b"A" * 10_000,
]
KNOWN_BAD_PARAMS = ["99999999999999999999999999", "-1", "\u0661", "%00", "9" * 5000, "x" * 2000]


def test_known_bad_inputs_on_every_route_are_not_500(fuzz: Fuzz) -> None:
    """Every route x every method x each input the probe (or review) found answered 500 once."""
    for path, methods in all_routes():
        for method in (*methods, "POST"):
            for param in KNOWN_BAD_PARAMS:
                url = _PARAM.sub(lambda _m, p=param: p, path)  # type: ignore[misc]
                for auth in (None, *KNOWN_BAD_AUTH, basic(ALICE)["Authorization"].encode()):
                    headers = {"authorization": auth} if auth else {}
                    for body in KNOWN_BAD_BODIES if method == "POST" else [b""]:
                        r = fuzz.request(method, url, headers=headers, params={"limit": "-1"}, content=body)
                        assert r.status_code < 500 or r.status_code == 503, (method, url, auth, body[:60], r.text[:200])
                if "{" not in path:
                    break  # no path parameter: one pass is enough


@pytest.mark.timeout(280)
@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_input_to_any_route_is_answered_500(fuzz: Fuzz, data: st.DataObject) -> None:
    path, methods = data.draw(st.sampled_from(all_routes()), label="route")
    method = data.draw(st.one_of(st.sampled_from(methods), st.sampled_from(["GET", "POST", "PUT", "DELETE"])))
    param = st.one_of(_param, st.sampled_from(fuzz.tokens), st.sampled_from(fuzz.tokens).map(lambda t: t + ".gif"))
    url = _PARAM.sub(lambda m: data.draw(param, label=m.group(1)).replace("%", "%25"), path)
    headers: dict[str, bytes] = {}
    auth = data.draw(_auth, label="authorization")
    if auth is not None:
        headers["authorization"] = auth
    if data.draw(st.booleans(), label="cookie"):
        headers["cookie"] = b"mb_device=" + data.draw(st.binary(max_size=40)).replace(b";", b"")
    if data.draw(st.booleans(), label="x-forwarded-for"):
        headers["x-forwarded-for"] = data.draw(st.binary(max_size=40)).replace(b"\r", b"").replace(b"\n", b"")
    params = data.draw(st.dictionaries(st.sampled_from(["limit", "x"]), _text, max_size=2), label="query")
    token_body = st.sampled_from(fuzz.tokens).map(
        lambda t: json.dumps({"token": t, "device": "dv_x", "ts": 1}).encode()
    )
    body = data.draw(st.one_of(_body, token_body), label="body") if method in ("POST", "PUT", "DELETE") else b""
    try:
        r = fuzz.request(method, url, headers=headers, params=params, content=body)
    except httpx.InvalidURL:
        return  # not a URL a client can send
    assert r.status_code < 500 or r.status_code == 503, (method, url, r.status_code, r.text[:300])
