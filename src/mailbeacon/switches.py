"""What is tracked for one email (R8): server defaults, workspace and user preferences, and the
email's own override. Pure; every decision carries the reason code of the switch that made it."""

from __future__ import annotations

from collections.abc import Mapping

from .model import TrackingChoice, TrackMode

#: what each reason code in `messages.tracking["reasons"]` means (shown by the checklist)
REASONS: dict[str, str] = {
    f"{kind}-off-{level}": f"{noun.capitalize()} tracking was off in {where}."
    for kind, noun in (("opens", "open"), ("clicks", "click"), ("replies", "reply"))
    for level, where in (
        ("server", "the server defaults (setting track_" + kind + ")"),
        ("workspace", "the workspace preferences"),
        ("user", "the sender's preferences"),
        ("email", "this email ([notrack] in the subject, X-Mailbeacon-Track header or API argument)"),
    )
}
_TRACK_WORDS: dict[str, TrackMode] = {
    "off": TrackMode.OFF,
    "none": TrackMode.OFF,
    "no": TrackMode.OFF,
    "false": TrackMode.OFF,
    "0": TrackMode.OFF,
    "opens": TrackMode.OPENS,
    "open": TrackMode.OPENS,
    "clicks": TrackMode.CLICKS,
    "click": TrackMode.CLICKS,
    "links": TrackMode.CLICKS,
    "all": TrackMode.ALL,
    "on": TrackMode.ALL,
    "yes": TrackMode.ALL,
    "true": TrackMode.ALL,
    "1": TrackMode.ALL,
}


def parse_track(value: str | TrackMode | None) -> TrackMode | None:
    """`off` / `opens` / `clicks` / `all` (and a few synonyms) → TrackMode; None if not one."""
    if value is None or isinstance(value, TrackMode):
        return value
    return _TRACK_WORDS.get(str(value).strip().lower())


def _flag(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        mode = _TRACK_WORDS.get(value.strip().lower())
        return None if mode is None else mode is not TrackMode.OFF
    return None


def choose_tracking(
    server: Mapping[str, object],
    workspace: Mapping[str, object],
    user: Mapping[str, object],
    override: TrackMode | None,
) -> TrackingChoice:
    """R8: tracking happens only where every switch allows it.

    The server setting is the default a workspace may change either way; a workspace that
    switched something off cannot be switched back on by a user, and the email's own choice
    (`off`, `opens`, `clicks`, `all`) can only narrow what the preferences allow — as in the
    composer of the product we follow, where tracking needs both the preferences and the
    composer toggle. `off` also stops reply tracking. Each reason names the first switch that
    left something off.
    """
    values: dict[str, bool] = {}
    reasons: list[str] = []
    for kind in ("opens", "clicks", "replies"):
        key = f"track_{kind}"
        ws = _flag(workspace.get(key))
        value, level = (ws, "workspace") if ws is not None else (bool(server.get(key, True)), "server")
        if value and _flag(user.get(key)) is False:
            value, level = False, "user"
        if value and override is not None:
            wanted = {
                "opens": override in (TrackMode.OPENS, TrackMode.ALL),
                "clicks": override in (TrackMode.CLICKS, TrackMode.ALL),
                "replies": override is not TrackMode.OFF,
            }[kind]
            if not wanted:
                value, level = False, "email"
        values[kind] = value
        if not value:
            reasons.append(f"{kind}-off-{level}")
    return TrackingChoice(values["opens"], values["clicks"], values["replies"], tuple(reasons))
