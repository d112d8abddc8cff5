"""schemathesis against the served OpenAPI document of a running `mailbeacon serve`: no 5xx, and
every response matches its schema (status code, content type, headers, body).

Bounded: a few generated examples per operation, no shrinking. (schemathesis' pytest plugin does
not run under pytest 9, so the operations are walked here with its Python API.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api_world import World, start_world
from mailbeacon.web.principal import SELF_AUTHENTICATED
from test_api import basic

EXAMPLES = 6
#: checks that cannot hold for an operation, and why: a JSON schema cannot say "base64 of an RFC 5322
#: message with recipients" or "a token this server signed", so schema-valid bodies there are
#: mostly ones mailbeacon must refuse (400)
UNDESCRIBABLE = {
    ("POST", "/api/v1/messages"): [positive_data_acceptance],
    ("POST", "/api/v1/self-view"): [positive_data_acceptance],
    ("POST", "/api/v1/self-view/check"): [positive_data_acceptance],  # a signature this server checks
    ("POST", "/api/v1/devices/heartbeat"): [positive_data_acceptance],
    ("POST", "/api/v1/devices/pair"): [positive_data_acceptance],  # a code this server made
    ("POST", "/api/v1/inbound"): [positive_data_acceptance],  # an empty body is schema-valid bytes
    # a provider's keys in its own formats (SendGrid's ECDSA key in base64 DER), and what each needs
    # the first time (SES its topic ARN): refused in one sentence (400)
    ("PUT", "/api/v1/providers"): [positive_data_acceptance],
    # "an http(s) URL with a host, no credentials": a pattern would say it, but the generator's regex
    # engine (Python's: `$` matches before a final newline) and the server's differ at the edges
    ("POST", "/api/v1/webhooks"): [positive_data_acceptance],
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): [positive_data_acceptance],
}
#: operations not called here, and why: checking a mailbox dials out to its IMAP server, which for a
#: generated mailbox is any host at all (the isolation walk and test_imap*.py cover it)
NOT_CALLED = {("POST", "/api/v1/mailboxes/{mailbox_id}/check")}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # generated receivers are any host at all: this node sends no webhooks (a test event stays pending)
    yield from start_world(tmp_path_factory.mktemp("schemathesis"), webhook_delivery="false")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_keeps_to_its_openapi_document(world: World, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_url(f"{world.url}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 18
    walked = {(op.method.upper(), op.path) for op in operations}
    assert {("POST", path) for path in SELF_AUTHENTICATED} <= walked  # the extension's routes too
    for operation in operations:
        if (operation.method.upper(), operation.path) in NOT_CALLED:
            continue

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: schemathesis.Case[Any]) -> None:
            # Basic, not bert's API key: a generated DELETE /api/v1/keys/{id} may revoke that
            excluded: list[Any] = list(UNDESCRIBABLE.get((case.method, case.path), []))
            case.call_and_validate(base_url=world.url, headers=basic("bert@beta.test"), excluded_checks=excluded)

        try:
            check()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing to get wrong (no parameters, no body)
