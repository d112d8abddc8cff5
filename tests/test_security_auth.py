"""Sign-ins and tokens (issue 9): the scrypt cost, the upgrade of old hashes, the throttle, and
hits whose recipient is not their message's.

The work done is counted (scrypt computations), never timed.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import FakeClock
from mailbeacon import passwords
from mailbeacon.errors import AuthError, Throttled
from mailbeacon.model import Hit, HitKind
from mailbeacon.passwords import OWASP_COST, Cost, check_password, hash_password, needs_rehash
from mailbeacon.runtime import Runtime
from mailbeacon.signin import sign_in
from mailbeacon.throttle import PER_ADDRESS, PER_CLIENT, Rule, SignInThrottle
from seeding import PASSWORD, seed_account, seed_message

ALICE = "alice@acme.test"


@pytest.fixture
def scrypts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The N of every scrypt computed."""
    calls: list[int] = []
    real = passwords._scrypt

    def counting(password: str, salt: bytes, cost: Cost, dklen: int) -> bytes:
        calls.append(cost.n)
        return real(password, salt, cost, dklen)

    monkeypatch.setattr(passwords, "_scrypt", counting)
    return calls


def test_new_hashes_use_the_owasp_scrypt_cost() -> None:
    """Checked in a fresh interpreter: the test suite itself runs with a cheap cost (conftest)."""
    out = subprocess.run(
        [sys.executable, "-c", "from mailbeacon.passwords import hash_password; print(hash_password('x'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.startswith("scrypt$131072$8$1$")
    assert Cost(2**17, 8, 1) == OWASP_COST
    assert check_password("x", out.strip()) and not check_password("y", out.strip())


def test_a_tampered_hash_cannot_ask_for_a_gigabyte(scrypts: list[int]) -> None:
    assert not check_password("x", "scrypt$1073741824$8$1$AAAA$AAAA")
    assert not check_password("x", "scrypt$0$8$1$AAAA$AAAA")
    assert not check_password("x", "bcrypt$whatever")
    assert scrypts == []


def test_an_old_hash_is_upgraded_on_a_successful_sign_in_only(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = seed_account(runtime)  # hashed with the suite's cheap cost: "old"
    old = runtime.store.user(user.id).password_hash
    monkeypatch.setattr(passwords, "COST", Cost(2**12, 8, 1))
    assert needs_rehash(old)
    with pytest.raises(AuthError):
        sign_in(runtime, ALICE, "wrong", "198.51.100.1", surface="SMTP")
    assert runtime.store.user(user.id).password_hash == old
    sign_in(runtime, ALICE, PASSWORD, "198.51.100.1", surface="SMTP")
    new = runtime.store.user(user.id).password_hash
    assert new.startswith("scrypt$4096$8$1$") and not needs_rehash(new)
    assert sign_in(runtime, ALICE, PASSWORD, "198.51.100.1", surface="SMTP").id == user.id  # and it still works


def test_unknown_address_costs_the_same_and_a_throttled_attempt_costs_nothing(
    runtime: Runtime, scrypts: list[int]
) -> None:
    seed_account(runtime)
    passwords.dummy_hash()  # made once, up front
    scrypts.clear()
    with pytest.raises(AuthError):
        sign_in(runtime, "nobody@acme.test", "x", "198.51.100.1", surface="SMTP")
    with pytest.raises(AuthError):
        sign_in(runtime, ALICE, "wrong", "198.51.100.1", surface="SMTP")
    assert scrypts == [passwords.COST.n, passwords.COST.n]
    for _ in range(PER_ADDRESS.limit - 1):
        with pytest.raises(AuthError):
            sign_in(runtime, ALICE, "wrong", "198.51.100.2", surface="SMTP")
    scrypts.clear()
    with pytest.raises(Throttled) as refused:
        sign_in(runtime, ALICE, PASSWORD, "198.51.100.3", surface="SMTP")
    assert scrypts == []
    assert refused.value.retry_after == PER_ADDRESS.window
    assert str(refused.value) == "too many failed sign-ins; try again in 15 minutes"


def test_the_throttle_per_address_per_client_and_after_success() -> None:
    clock = FakeClock()
    t = SignInThrottle(clock, per_address=Rule(3, 60), per_client=Rule(5, 100))
    for _ in range(3):
        assert t.wait("a@x.test", "c1") == 0
        t.failed("a@x.test", "c1")
    assert t.wait("A@X.test", "c9") == 60  # the address, from any client, any case
    assert t.wait("b@x.test", "c1") == 0  # the client has 3 of its 5
    t.failed("b@x.test", "c1")
    t.failed("c@x.test", "c1")
    assert t.wait("d@x.test", "c1") == 100  # now the client is blocked for any address
    clock.advance(30)
    assert t.wait("a@x.test", "c9") == 30
    t.succeeded("b@x.test")  # a success clears its address only
    assert t.wait("d@x.test", "c1") == 70
    clock.advance(71)
    assert t.wait("d@x.test", "c1") == 0 and t.wait("a@x.test", "c2") == 0


def test_the_throttle_memory_is_bounded() -> None:
    t = SignInThrottle(FakeClock(), max_keys=1000)
    for i in range(10_000):
        t.failed(f"u{i}@x.test", f"198.51.{i // 256}.{i % 256}")
    assert len(t._failures) == 1000
    assert PER_CLIENT.limit > PER_ADDRESS.limit


def test_a_hit_is_stored_only_for_a_recipient_of_its_message(any_runtime: Runtime, clock: FakeClock) -> None:
    rt = any_runtime
    a = seed_message(rt, recipients=("bob@client.example",))
    b = seed_message(rt, recipients=("carol@client.example",), user=a.user)
    bob, carol = a.rcpt("bob@client.example"), b.rcpt("carol@client.example")

    def hit(uid: str, ws: int, msg: int, rcpt: int) -> Hit:
        return Hit(uid=uid, kind=HitKind.OPEN, workspace_id=ws, message_id=msg, recipient_id=rcpt, at=clock())

    ws = a.workspace.id
    rt.store.insert_hits(
        [
            hit("ok", ws, a.message.id, bob.id),
            hit("other-message", ws, a.message.id, carol.id),  # carol got message b, not a
            hit("other-workspace", ws + 1, a.message.id, bob.id),
            hit("no-such-recipient", ws, a.message.id, 10**12),
        ]
    )
    assert [h.uid for h in (sv.hit for sv in rt.store.hits_with_verdicts())] == ["ok"]


def test_a_verified_password_costs_one_scrypt_per_ttl_not_one_per_request(
    runtime: Runtime, scrypts: list[int], clock: FakeClock
) -> None:
    user = seed_account(runtime)
    scrypts.clear()
    for _ in range(5):
        assert sign_in(runtime, ALICE, PASSWORD, "198.51.100.1", surface="API").id == user.id
    assert len(scrypts) == 1  # the first verifies; the next four are remembered
    with pytest.raises(AuthError):
        sign_in(runtime, ALICE, "wrong", "198.51.100.1", surface="API")
    assert len(scrypts) == 2  # a wrong password is never remembered
    clock.advance(runtime.recent_sign_ins.ttl)
    sign_in(runtime, ALICE, PASSWORD, "198.51.100.1", surface="API")
    assert len(scrypts) == 3  # remembered for ttl only
    runtime.store.update_user(user.id, password_hash=hash_password("new password"))
    scrypts.clear()
    with pytest.raises(AuthError):
        sign_in(runtime, ALICE, PASSWORD, "198.51.100.1", surface="API")  # the old one, just remembered
    assert sign_in(runtime, ALICE, "new password", "198.51.100.1", surface="API").id == user.id
    assert len(scrypts) == 2  # the refused old password, the new one: nothing remembered across hashes
