"""Tracking tokens: signed, short, URL-safe, rotation, no personal data; any change fails."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailbeacon.model import HitKind
from mailbeacon.tokens import (
    InvalidToken,
    Keyring,
    b64decode,
    b64encode,
    generate_key,
    parse_key_spec,
)

K1 = b"k" * 32
K2 = b"q" * 32
ids = st.integers(min_value=0, max_value=2**62)
kinds = st.sampled_from([HitKind.OPEN, HitKind.CLICK, HitKind.DECOY])
URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def _sign(ring: Keyring, kind: HitKind, ws: int, msg: int, rcpt: int, link: int) -> str:
    return ring.sign(kind, ws, msg, rcpt, link if kind is HitKind.CLICK else None)


@given(kinds, ids, ids, ids, st.integers(0, 10_000))
def test_round_trip(kind: HitKind, ws: int, msg: int, rcpt: int, link: int) -> None:
    ring = Keyring({1: K1})
    token = _sign(ring, kind, ws, msg, rcpt, link)
    assert URL_SAFE.match(token)
    c = ring.verify(token)
    assert (c.kind, c.workspace_id, c.message_id, c.recipient_id) == (kind, ws, msg, rcpt)
    assert c.link == (link if kind is HitKind.CLICK else None)
    assert c.key_id == 1


@given(kinds, ids, ids, ids, st.data())
def test_any_change_fails(kind: HitKind, ws: int, msg: int, rcpt: int, data: st.DataObject) -> None:
    ring = Keyring({1: K1})
    token = _sign(ring, kind, ws, msg, rcpt, 3)
    pos = data.draw(st.integers(0, len(token) - 1))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=. %"
    new = data.draw(st.sampled_from(alphabet).filter(lambda ch: ch != token[pos]))
    changed = token[:pos] + new + token[pos + 1 :]
    with pytest.raises(InvalidToken):
        ring.verify(changed)


@given(kinds, ids, ids, ids, st.binary(min_size=1, max_size=3))
def test_truncation_and_extension_fail(kind: HitKind, ws: int, msg: int, rcpt: int, extra: bytes) -> None:
    ring = Keyring({1: K1})
    token = _sign(ring, kind, ws, msg, rcpt, 0)
    raw = b64decode(token)
    for bad in (raw[:-1], raw + extra, raw[1:]):
        with pytest.raises(InvalidToken):
            ring.verify(b64encode(bad))


@given(kinds, ids, ids, ids)
def test_other_key_fails(kind: HitKind, ws: int, msg: int, rcpt: int) -> None:
    token = _sign(Keyring({1: K1}), kind, ws, msg, rcpt, 1)
    with pytest.raises(InvalidToken):
        Keyring({1: K2}).verify(token)


@given(ids, ids, ids, ids)
def test_moving_a_token_to_another_workspace_fails(ws: int, other: int, msg: int, rcpt: int) -> None:
    """Re-encode the token with another workspace id: the tag (keyed per workspace) no longer fits."""
    ring = Keyring({1: K1})
    token = ring.sign(HitKind.OPEN, ws, msg, rcpt)
    raw = b64decode(token)
    from mailbeacon.tokens import TAG_BYTES, _varint

    body, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
    head = bytes([body[0]]) + _varint(1)
    rest = body[len(head) + len(_varint(ws)) :]
    forged = head + _varint(other) + rest + tag
    if other == ws:
        assert ring.verify(b64encode(forged)).workspace_id == ws
    else:
        with pytest.raises(InvalidToken):
            ring.verify(b64encode(forged))


def test_rotation_old_keys_verify_newest_signs() -> None:
    old = Keyring({1: K1})
    t_old = old.sign(HitKind.OPEN, 1, 2, 3)
    rotated = Keyring({1: K1, 2: K2})
    assert rotated.current == 2
    assert rotated.verify(t_old).key_id == 1
    t_new = rotated.sign(HitKind.OPEN, 1, 2, 3)
    assert rotated.verify(t_new).key_id == 2
    with pytest.raises(InvalidToken):
        old.verify(t_new)  # an unknown key id


def test_a_token_an_older_key_signed_can_be_made_again_after_rotation() -> None:
    """The paired extension is given the pixel tokens of its user's recent mail: for each
    message, the token of every key that may have signed it (the key is not stored)."""
    t_old = Keyring({1: K1}).sign(HitKind.OPEN, 1, 2, 3)
    rotated = Keyring({1: K1, 2: K2})
    assert rotated.key_ids == (2, 1)
    again = [rotated.sign(HitKind.OPEN, 1, 2, 3, kid=kid) for kid in rotated.key_ids]
    assert again[1] == t_old and again[0] == rotated.sign(HitKind.OPEN, 1, 2, 3)
    with pytest.raises(KeyError):
        rotated.sign(HitKind.OPEN, 1, 2, 3, kid=7)


def test_tokens_are_short_and_carry_no_address() -> None:
    ring = Keyring({1: generate_key()})
    small = ring.sign(HitKind.CLICK, 1, 1234, 56789, 12)
    big = ring.sign(HitKind.CLICK, 10_000, 5_000_000_000, 9_000_000_000, 300)
    assert len(small) <= 32
    assert len(big) <= 40
    for t in (small, big):
        assert "@" not in t and "%" not in t


@pytest.mark.parametrize(
    "bad",
    ["", "a", "!!!!", "AAAA", "A" * 600, "not a token at all", "AQEBAQEB====", "AQEBAQEBAQEBAQEBAQEBAQEBAQ.gif"],
)
def test_garbage_is_rejected(bad: str) -> None:
    with pytest.raises(InvalidToken):
        Keyring({1: K1}).verify(bad)


def test_kind_and_link_must_agree() -> None:
    ring = Keyring({1: K1})
    with pytest.raises(ValueError, match="link index"):
        ring.sign(HitKind.CLICK, 1, 1, 1)
    with pytest.raises(ValueError, match="link index"):
        ring.sign(HitKind.OPEN, 1, 1, 1, 4)


def test_signed_values_for_cookies() -> None:
    ring = Keyring({1: K1})
    signed = ring.sign_value("device-cookie", "dv_abc")
    assert ring.verify_value("device-cookie", signed) == "dv_abc"
    assert ring.verify_value("other-purpose", signed) is None
    assert ring.verify_value("device-cookie", signed[:-1] + ("A" if signed[-1] != "A" else "B")) is None
    assert ring.verify_value("device-cookie", "dv_abc") is None


def test_key_spec_round_trip_and_errors() -> None:
    keys = {1: K1, 7: K2}
    assert parse_key_spec(f"7:{b64encode(K2)},1:{b64encode(K1)}") == keys
    for bad in ("", "x:abc", "1:short", "1"):
        with pytest.raises(ValueError):
            parse_key_spec(bad)


def test_what_cannot_be_signed_or_kept_says_why() -> None:
    ring = Keyring({1: K1})
    with pytest.raises(ValueError, match="at least one key"):
        Keyring({})
    with pytest.raises(ValueError, match="too short"):
        Keyring({1: b"short"})
    with pytest.raises(ValueError, match="non-negative"):
        ring.sign(HitKind.OPEN, -1, 1, 1)
    with pytest.raises(ValueError, match="no token for"):
        ring.sign(HitKind.SELF_VIEW, 1, 1, 1)
    with pytest.raises(ValueError, match="must not contain"):
        ring.sign_value("cookie", "a.b")
    with pytest.raises(ValueError, match="shorter than 16 bytes"):
        parse_key_spec("1:" + b64encode(b"short"))


def test_a_long_signing_key_signs_and_verifies() -> None:
    ring = Keyring({1: b"x" * 100})
    token = ring.sign(HitKind.OPEN, 1, 2, 3)
    assert ring.verify(token).recipient_id == 3


@pytest.mark.parametrize(
    "tampered",
    [
        lambda t: "A" + t.replace("+", "-"),  # another length: not base64url of a token
        lambda t: t[:-2] + "+A",  # '+' is not in the URL-safe alphabet
        lambda t: b64encode(b64decode(t)[:2] + b"\xff" * 12),  # garbage after the header
    ],
)
def test_malformed_tokens_are_refused(tampered: Callable[[str], str]) -> None:
    ring = Keyring({1: K1})
    with pytest.raises(InvalidToken):
        ring.verify(tampered(ring.sign(HitKind.CLICK, 1, 2, 3, 4)))


def test_a_signed_value_with_a_bad_tag_is_not_believed() -> None:
    ring = Keyring({1: K1})
    signed = ring.sign_value("cookie", "dv_1")
    value, kid, _ = signed.split(".")
    assert ring.verify_value("cookie", f"{value}.{kid}.+bad") is None
    assert ring.verify_value("cookie", f"{value}.9.{signed.split('.')[2]}") is None
