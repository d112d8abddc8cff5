"""The demo's everyday traffic: the sends besides the scenarios, and what their recipients do.

Nobody checks these counts one by one (the scenarios do that); they are there so that the
dashboard looks like a team's real morning: Gmail and Outlook readers, people who click, people
who have not opened yet, Apple's prefetch, a gateway before the person.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from .actors import MPP_V4, SAFE_LINKS, apple_mail, chrome, gmail_proxy, iphone_mail, outlook
from .script import HOUR, MAYA, MINUTE, SAM, Do, Send, Step

PEOPLE = (
    ("Amara Okoye", "tidewater"), ("Lukas Brandt", "helix-labs"), ("Sofia Rossi", "cortile"),
    ("Ethan Walsh", "granite-bay"), ("Mei Chen", "lanterna"), ("Oliver Grant", "bluefern"),
    ("Inès Laurent", "maison-vert"), ("Jonas Berg", "fjordline"), ("Aisha Rahman", "sunport"),
    ("Mateo García", "ribera"), ("Hannah Schulz", "kontor"), ("Kwame Mensah", "goldcoast"),
    ("Elena Popescu", "carpatia"), ("Liam O'Brien", "shamrock-it"), ("Yuki Tanaka", "sakura-works"),
    ("Priya Nair", "monsoon"), ("Lucas Silva", "atlantico"), ("Freya Larsen", "nordlys"),
    ("Omar Haddad", "cedar-trade"), ("Grace Kim", "hanbit"), ("Daniel Novak", "vltava"),
    ("Zoe Adams", "brightlane"), ("Marco Bianchi", "cortile"), ("Nina Petrova", "volga-soft"),
    ("Samuel Osei", "tidewater"), ("Clara Dubois", "maison-vert"), ("Felix Wagner", "helix-labs"),
    ("Layla Hassan", "sunport"), ("Noor Aziz", "monsoon"), ("Isak Holm", "fjordline"),
    ("Rosa Jiménez", "ribera"), ("Victor Leroy", "lumen"), ("Ana Costa", "atlantico"),
    ("Peter Hall", "granite-bay"), ("Leah Cohen", "lanterna"), ("Arjun Mehta", "monsoon"),
    ("Eva Lindqvist", "nordlys"),
)  # fmt: skip

SUBJECTS = (
    ("Following up on our call", "leemunroe-email.html"),
    ("Your Northwind trial: three tips", "sendgrid-paste-digest.html"),
    ("Invitation: product walkthrough on Tuesday", "cerberus-hybrid.html"),
    ("Proposal for {company}", "konsav-general.html"),
    ("Please confirm the meeting time", "mailgun-action.html"),
)

#: home and office lines (in none of the signature data's networks)
HOMES = (
    "82.207.188.242", "81.21.92.166", "88.19.55.70", "176.122.197.227", "81.154.37.230",
    "71.147.163.18", "90.245.162.209", "109.4.75.194", "93.192.52.126", "213.127.147.39",
)  # fmt: skip
GOOGLE = ("66.249.84.20", "66.249.81.156", "66.249.91.94", "66.249.83.68")


def _gmail(n: int) -> tuple[Step, ...]:
    return (
        Step(25 * MINUTE, Do.OPEN, gmail_proxy(GOOGLE[n % 4])),
        Step(4 * HOUR, Do.OPEN, gmail_proxy(GOOGLE[(n + 1) % 4])),
    )


def _outlook_clicks(n: int) -> tuple[Step, ...]:
    ip = HOMES[n % len(HOMES)]
    return (Step(1 * HOUR, Do.OPEN, outlook(ip)), Step(1 * HOUR + 3 * MINUTE, Do.CLICK, chrome(ip).page(), 0))


def _not_yet(n: int) -> tuple[Step, ...]:
    return ()


def _apple_mail(n: int) -> tuple[Step, ...]:
    ip = HOMES[n % len(HOMES)]
    return (Step(2 * HOUR, Do.OPEN, apple_mail(ip)), Step(6 * HOUR, Do.OPEN, iphone_mail(ip)))


def _prefetch_only(n: int) -> tuple[Step, ...]:
    return (Step(4 * MINUTE, Do.OPEN, MPP_V4),)


def _gateway_then_person(n: int) -> tuple[Step, ...]:
    return (Step(8, Do.SCAN, SAFE_LINKS), Step(3 * HOUR, Do.OPEN, outlook(HOMES[n % len(HOMES)])))


BEHAVIOURS: tuple[Callable[[int], tuple[Step, ...]], ...] = (
    _gmail,
    _outlook_clicks,
    _not_yet,
    _apple_mail,
    _prefetch_only,
    _gmail,
    _gateway_then_person,
    _not_yet,
)


def everyday_sends() -> tuple[Send, ...]:
    out = []
    for n, (name, company) in enumerate(PEOPLE):
        first, last = name.split(" ", 1)
        local = f"{first}.{last}".lower().replace("'", "")
        address = f"{unicodedata.normalize('NFKD', local).encode('ascii', 'ignore').decode()}@{company}.example"
        subject, template = SUBJECTS[n % len(SUBJECTS)]
        label = company.replace("-", " ").title()
        out.append(
            Send(
                MAYA if n % 2 == 0 else SAM,
                address,
                name,
                subject.format(company=label),
                template,
                BEHAVIOURS[n % len(BEHAVIOURS)](n),
            )
        )
    return tuple(out)
