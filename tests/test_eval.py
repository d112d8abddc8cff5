"""`mailbeacon eval`: parsing labelled JSONL (errors name the line), scoring, the JSON shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mailbeacon.classify import rules_version
from mailbeacon.cli import main
from mailbeacon.errors import InvalidInput
from mailbeacon.evaluate import evaluate, mismatches, parse, to_json
from mailbeacon.model import Relation

SAFE_LINKS_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/72.0.3626.109 Safari/537.36"
GMAIL = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"

# the example of the issue, completed with real user agents
ISSUE_EXAMPLE: dict[str, Any] = {
    "scenario": "safe-links-then-person",
    "message": {
        "sent_at": "2026-03-02T09:00:00Z",
        "sender": "alice@acme.test",
        "workspace_domains": ["acme.test"],
        "links": 3,
        "sender_devices": ["d1"],
    },
    "recipient": "bob@client.example",
    "events": [
        {"at": "2026-03-02T09:00:03Z", "kind": "open", "method": "GET", "ip": "40.107.1.2", "user_agent": SAFE_LINKS_UA,
         "headers": {"accept": "*/*"}, "expect": "scanner"},
        {"at": "2026-03-02T09:00:04Z", "kind": "click", "link": 0, "method": "HEAD", "ip": "40.107.1.2",
         "user_agent": SAFE_LINKS_UA, "headers": {}, "expect": "scanner"},
        {"at": "2026-03-02T10:12:00Z", "kind": "self_view", "device": "d1"},
        {"at": "2026-03-02T10:12:01Z", "kind": "open", "method": "GET", "ip": "66.249.93.84", "user_agent": GMAIL,
         "headers": {}, "expect": "self"},
    ],
    "expect_counts": {"opens": 0, "opens_inferred": 0, "clicks": 0},
}  # fmt: skip

PERSON_CLICKS: dict[str, Any] = {
    "scenario": "images-blocked",
    "message": {"sent_at": "2026-03-02T09:00:00Z", "sender": "alice@acme.test", "links": 2},
    "recipient": "Carol@Buyer.example",
    "events": [
        {"at": "2026-03-02T11:00:00Z", "kind": "click", "link": 1, "ip": "81.2.69.160",
         "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:100.0) Gecko/20100101 Firefox/100.0",
         "headers": {"Accept-Language": "en"}, "expect": "human"},
        {"at": "2026-03-03T08:00:00Z", "kind": "reply"},
    ],
    "expect_counts": {"opens": 1, "opens_inferred": 1, "clicks": 1, "replies": 1},
}  # fmt: skip


def lines(*scenarios: dict[str, Any]) -> list[str]:
    return [json.dumps(s) for s in scenarios]


def test_issue_example_scores_and_keeps_input_order() -> None:
    report = evaluate(lines(ISSUE_EXAMPLE, PERSON_CLICKS))
    out = to_json(report)
    assert out["counts_match"] == 1.0
    assert [s["scenario"] for s in out["scenarios"]] == ["safe-links-then-person", "images-blocked"]
    first = out["scenarios"][0]
    assert [e["verdict"] for e in first["events"]] == ["scanner", "scanner", None, "self"]
    assert first["events"][2] == {
        "at": "2026-03-02T10:12:00Z", "kind": "self_view", "verdict": None, "subtype": None, "reasons": [],
        "sentence": None, "expect": None,
    }  # fmt: skip
    assert first["events"][1]["reasons"][0] == "head_request"
    assert first["counts"]["opens"] == 0 and first["counts_match"] is True
    second = out["scenarios"][1]
    assert second["counts"]["opens_inferred"] == 1 and second["counts"]["replies"] == 1
    assert [e["verdict"] for e in second["events"]] == ["human", None]
    assert out["classes"]["scanner"] == {"precision": 1.0, "recall": 1.0, "count": 2, "predicted": 2}
    assert out["classes"]["human"]["count"] == 1 and out["classes"]["preview"]["precision"] is None
    assert out["confusion"]["self"]["self"] == 1
    json.dumps(out)  # serialisable as is


def test_wrong_labels_show_in_precision_recall_confusion_and_counts() -> None:
    wrong = json.loads(json.dumps(ISSUE_EXAMPLE))
    wrong["events"][0]["expect"] = "human"  # someone labelled the gateway's pixel fetch as a person
    wrong["expect_counts"]["opens"] = 1
    report = evaluate(lines(wrong, PERSON_CLICKS))
    assert report.classes["human"].recall == 0.5 and report.classes["human"].precision == 1.0
    assert report.classes["scanner"].precision == 0.5
    assert report.confusion["human"]["scanner"] == 1
    assert report.counts_match == 0.5
    assert mismatches(report)[0][:4] == ("safe-links-then-person", 0, "human", "scanner")


def test_relation_is_computed_from_the_workspace() -> None:
    colleague = dict(PERSON_CLICKS, recipient="dave@sub.acme.test")
    colleague["message"] = dict(PERSON_CLICKS["message"], workspace_domains=["acme.test"])
    own = dict(PERSON_CLICKS, recipient="alice@home.example")
    own["message"] = dict(PERSON_CLICKS["message"], sender_addresses=["alice@home.example"])
    member = dict(PERSON_CLICKS, recipient="eve@gmail.example")
    member["message"] = dict(PERSON_CLICKS["message"], workspace_members=["eve@gmail.example"])
    scenarios = parse(lines(PERSON_CLICKS, colleague, own, member))
    assert [s.context.relation for s in scenarios] == [
        Relation.EXTERNAL, Relation.COLLEAGUE, Relation.SENDER, Relation.COLLEAGUE,
    ]  # fmt: skip
    assert scenarios[0].recipient == "carol@buyer.example"
    assert scenarios[0].events[0].hit is not None and scenarios[0].events[0].hit.headers == {"accept-language": "en"}


def test_windows_can_be_set_per_scenario() -> None:
    sc = json.loads(json.dumps(ISSUE_EXAMPLE))
    sc["events"][3]["at"] = "2026-03-02T10:12:20Z"  # 20 s after the beacon
    sc["events"][3]["expect"] = "human"
    sc["expect_counts"]["opens"] = 1
    assert evaluate(lines(sc)).counts_match == 1.0
    sc["self_view_window"] = 30
    assert evaluate(lines(sc)).results[0].verdicts[3].cls.value == "self"  # type: ignore[union-attr]


def _mutate(path: tuple[Any, ...], value: Any) -> str:
    sc = json.loads(json.dumps(ISSUE_EXAMPLE))
    target = sc
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return json.dumps(sc)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("scenario",), KeyError, "'scenario'"),
        (("message",), "x", "'message'"),
        (("message", "sender"), "nobody", "'message.sender'"),
        (("message", "sent_at"), "yesterday", "'message.sent_at' 'yesterday'"),
        (("message", "links"), -1, "'message.links'"),
        (("message", "sender_devices"), "d1", "'message.sender_devices' must be a list"),
        (("recipient",), 7, "'recipient'"),
        (("events",), {}, "'events' must be a list"),
        (("events", 1, "kind"), "tap", "event 1: 'kind' must be one of"),
        (("events", 1, "link"), KeyError, "event 1: a click needs 'link'"),
        (("events", 1, "link"), "first", "event 1: 'link'"),
        (("events", 0, "expect"), "robot", "event 0: 'expect' must be one of"),
        (("events", 2, "expect"), "self", "event 2: a self_view beacon is not classified"),
        (("events", 0, "headers"), {"accept": 1}, "event 0: 'headers'"),
        (("events", 0, "ip"), 40, "event 0: 'ip' must be a string"),
        (("events", 0, "at"), None, "event 0: 'at' must be an ISO 8601 time"),
        (("expect_counts",), {"views": 1}, "'expect_counts' key 'views'"),
        (("expect_counts", "opens"), "one", "'expect_counts.opens'"),
        (("settle_window",), "long", "'settle_window'"),
    ],
)
def test_malformed_input_is_refused_naming_the_line(path: tuple[Any, ...], value: Any, message: str) -> None:
    good = json.dumps(PERSON_CLICKS)
    with pytest.raises(InvalidInput, match="^line 3" + (", " if message.startswith("event ") else ": ")) as exc:
        parse([good, "", _mutate(path, value)])
    assert message in str(exc.value)


def test_not_json_and_empty_files() -> None:
    with pytest.raises(InvalidInput, match="line 1: not valid JSON"):
        parse(["{nope"])
    with pytest.raises(InvalidInput, match="line 1: a scenario must be a JSON object"):
        parse(["[1]"])
    with pytest.raises(InvalidInput, match="no scenarios"):
        parse(["", "// a comment"])


def test_cli_eval_json_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "hits.jsonl"
    f.write_text("\n".join(lines(ISSUE_EXAMPLE, PERSON_CLICKS)) + "\n")
    assert main(["eval", str(f), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts_match"] == 1.0 and len(out["scenarios"]) == 2
    assert main(["eval", str(f)]) == 0
    table = capsys.readouterr().out
    assert "precision" in table and "scanner" in table and "2 scenarios" in table
    assert f"rules {rules_version()}" in table and out["rules_version"] == rules_version()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(PERSON_CLICKS) + "\n{\n")
    assert main(["eval", str(bad)]) == 1
    assert "line 2: not valid JSON" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "missing.jsonl")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_peers_are_context_from_other_recipients_and_never_scored() -> None:
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/145.0.0.0 Safari/537.36"
    sc = {
        "scenario": "gateway-for-everyone",
        "message": {"sent_at": "2026-03-02T09:00:00Z", "sender": "alice@acme.test", "links": 1},
        "recipient": "bob@client.example",
        "events": [{"at": "2026-03-02T09:00:20Z", "kind": "open", "ip": "93.184.216.34", "user_agent": ua,
                    "headers": {"accept": "*/*"}, "expect": "scanner"}],
        "peers": [{"recipient": f"p{i}@client.example", "at": "2026-03-02T09:00:21Z", "kind": "open",
                   "ip": "93.184.216.34", "user_agent": ua} for i in range(2)],
    }  # fmt: skip
    report = evaluate(lines(sc))
    assert report.scored_events == 1 and report.classes["scanner"].recall == 1.0
    (event,) = to_json(report)["scenarios"][0]["events"]
    assert event["reasons"][0] == "many_recipients"
    alone = evaluate(lines({**sc, "peers": []}))
    assert alone.classes["scanner"].recall == 0.0  # without the other copies it is a quick reader
    for peers, message in [
        ([{"at": "2026-03-02T09:00:21Z", "kind": "open"}], "needs 'recipient'"),
        ([{**sc["peers"][0], "expect": "scanner"}], "context only"),  # type: ignore[index]
        ([{**sc["peers"][0], "recipient": "bob@client.example"}], "another recipient"),  # type: ignore[index]
        ("x", "must be a list"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            evaluate(lines({**sc, "peers": peers}))
