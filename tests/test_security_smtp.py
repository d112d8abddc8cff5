"""The submission proxy's defences (issue 9), through the real proxy with real swaks.

The From: check fails closed: every spoofing form the probe relayed as the signed-in user is
refused with 550. Failed sign-ins are throttled per address and per client (454, temporary).
"""

from __future__ import annotations

from pathlib import Path

import aiosmtplib
import pytest

from conftest import FakeClock
from mailbeacon.runtime import Runtime
from mailbeacon.smtp import SmtpProxy
from mailbeacon.throttle import PER_ADDRESS, PER_CLIENT
from test_smtp_proxy import Sink, login, swaks
from test_smtp_proxy import proxy as proxy  # the proxy fixture
from test_smtp_proxy import sink as sink  # the upstream fixture

pytestmark = pytest.mark.swaks

HEAD = b"To: bob@client.test\r\nSubject: Quarterly numbers\r\nMessage-ID: <q1@acme.test>\r\n"
BODY = b"\r\nPlease find the numbers attached.\r\n"

#: From: forms a receiving MUA may show as someone else, each relayed before (issue 9)
SPOOFS = {
    "blank before the colon": b"From : ceo@bank.test\r\n" + HEAD,
    "tab before the colon, not first": HEAD + b"From\t: ceo@bank.test\r\n",
    "encoded-word address": b"From: =?utf-8?b?Y2VvQGJhbmsudGVzdA==?=\r\n" + HEAD,
    "dotless domain": b"From: ceo@bank\r\n" + HEAD,
    "fullwidth domain": "From: ceo@bank\uff0etest\r\n".encode() + HEAD,
    "fullwidth letters": "From: alice@\uff41cme.test\r\n".encode() + HEAD,
    "unterminated quote": b'From: "ceo@bank.test <alice@acme.test>\r\n' + HEAD,
    "two addresses": b"From: alice@acme.test, ceo@bank.test\r\n" + HEAD,
    "address then angle address": b"From: alice@acme.test <ceo@bank.test>\r\n" + HEAD,
    "two From fields": b"From: alice@acme.test\r\nFrom: ceo@bank.test\r\n" + HEAD,
    "a group": b"From: staff: alice@acme.test;\r\n" + HEAD,
    "null address": b"From: <>\r\n" + HEAD,
    "no From at all": HEAD,
    "someone else's address": b"From: ceo@bank.test\r\n" + HEAD,
}


async def send(port: int, tmp_path: Path, raw: bytes, name: str = "m.eml") -> tuple[int, str]:
    path = tmp_path / name
    path.write_bytes(raw)
    return await swaks(port, "--from", "alice@acme.test", "--to", "bob@client.test", "--data", f"@{path}")


@pytest.mark.parametrize("case", list(SPOOFS), ids=list(SPOOFS))
async def test_a_from_field_that_is_not_exactly_one_of_the_users_addresses_is_refused(
    proxy: tuple[SmtpProxy, Runtime], sink: tuple[Sink, int], tmp_path: Path, case: str
) -> None:
    p, rt = proxy
    rc, out = await send(p.port, tmp_path, SPOOFS[case] + BODY)
    assert rc != 0
    assert "550 5.7.1" in out and "your mailbeacon addresses" in out, out
    assert sink[0].received == []
    assert rt.store.messages() == []


async def test_an_mbox_from_line_in_front_of_the_fields_is_refused(
    proxy: tuple[SmtpProxy, Runtime], sink: tuple[Sink, int]
) -> None:
    """swaks strips such a line from its input, so this one goes through aiosmtplib."""
    p, _ = proxy
    raw = b"From ceo@bank.test Mon Mar  2 09:00:00 2026\r\nFrom: alice@acme.test\r\n" + HEAD + BODY
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=p.port) as client:
        await client.login("alice@acme.test", "s3cret")
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await client.sendmail("alice@acme.test", ["bob@client.test"], raw)
    assert refused.value.code == 550 and "mbox 'From ' line" in refused.value.message
    assert sink[0].received == []


@pytest.mark.parametrize(
    "from_field",
    [
        b"From: Alice <alice@acme.test>",
        b"From: alice@acme.test",
        b"FROM: ALICE@ACME.TEST",
        b"From: =?utf-8?q?Alice_M=C3=BCller?= <alice@acme.test>",
        b'From: "M\xc3\xbcller, Alice" <alice@acme.test>',
        b"From: Alice\r\n <alice@acme.test>",
        b"From: alice@acme.test (Alice at work)",
    ],
)
async def test_the_users_own_address_in_any_normal_form_is_relayed(
    proxy: tuple[SmtpProxy, Runtime], sink: tuple[Sink, int], tmp_path: Path, from_field: bytes
) -> None:
    p, _ = proxy
    rc, out = await send(p.port, tmp_path, from_field + b"\r\n" + HEAD + BODY)
    assert rc == 0, out
    assert len(sink[0].received) == 1


async def test_failed_sign_ins_are_throttled_per_address_then_lifted(
    proxy: tuple[SmtpProxy, Runtime], sink: tuple[Sink, int], tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(b"From: alice@acme.test\r\n" + HEAD + BODY)
    args = ("--from", "alice@acme.test", "--to", "bob@client.test", "--data", f"@{path}")
    port = proxy[0].port
    for _ in range(PER_ADDRESS.limit):
        rc, out = await swaks(port, *args, *login("wrong"), auth=False)
        assert "535 5.7.8 Authentication failed" in out
    # now even the right password is refused, temporarily, without checking it
    rc, out = await swaks(port, *args, *login("s3cret"), auth=False)
    assert rc != 0 and "454 4.7.0" in out and "too many failed sign-ins; try again in 15 minutes" in out, out
    assert sink[0].received == []
    clock.advance(PER_ADDRESS.window + 1)
    rc, out = await swaks(port, *args, *login("s3cret"), auth=False)
    assert rc == 0, out


async def test_failed_sign_ins_are_throttled_per_client_across_addresses(
    proxy: tuple[SmtpProxy, Runtime], tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(b"From: alice@acme.test\r\n" + HEAD + BODY)
    args = ("--from", "alice@acme.test", "--to", "bob@client.test", "--data", f"@{path}")
    port = proxy[0].port
    for i in range(PER_CLIENT.limit):
        rc, out = await swaks(port, *args, *login("wrong", user=f"guess{i}@acme.test"), auth=False)
        assert "535 5.7.8" in out
    rc, out = await swaks(port, *args, *login("s3cret"), auth=False)  # a real account, never tried
    assert rc != 0 and "454 4.7.0" in out, out
