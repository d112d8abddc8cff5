"""The "why" answer (R10), pure: the whole answer for every row of PRODUCT.md's scenario table,
the problem case of every checklist item, and each fact that explains silence.

The facts come from the labelled corpus (real hits, verdicts from the real classifier) with the
stored facts each case changes (`why_cases.py`). `test_why_e2e.py` checks that the store, the
pipeline and `Store.why_facts` give the same answers.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailbeacon.diagnose import Facts, HitFact, Injection, MailboxFact, ReplyFact, Status, diagnose
from mailbeacon.diagnose.machines import NAMES, name_of
from mailbeacon.diagnose.wording import span
from mailbeacon.model import HitKind, Reason, Relation, ReplyKind, TrackingChoice, VerdictClass
from mailbeacon.reachability import public_url_issues
from why_cases import PROBLEMS, SCENARIO_ROWS, SILENCE, Case, render

GOLDEN_SCENARIO = {
    "own address, paired browser": """\
Not opened, 2 clicks and no reply.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 3 tracked links.
ok 4 recipient.sender: alice.private@gmail.example is one of your own addresses: views in your paired browser are not counted.
ok 5 pixel.loaded: The pixel loaded 8 times, all in your own browser.
problem 6 own.only: All 10 hits so far came from your own paired browser: its pixel loads do not count.
    -> Nothing to fix: your own views are never counted as opens.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 minutes ago.
""",
    "own address, another browser or phone": """\
Opened 6 times, 2 clicks and no reply.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 2 tracked links.
ok 4 recipient.sender: alice.private@icloud.example is one of your own addresses: views in your paired browser are not counted.
ok 5 pixel.loaded: The pixel loaded 6 times, all by people.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.none: They clicked, and the pixel loaded for them too.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "colleague": """\
Opened 4 times, 3 clicks and no reply.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 3 tracked links.
ok 4 recipient.colleague: bob0@acme.test is a colleague in your workspace: opens and clicks count, replies do not (1 reply recorded).
ok 5 pixel.loaded: The pixel loaded 4 times, all by people.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.none: They clicked, and the pixel loaded for them too.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "own Sent folder, same browser": """\
Opened 5 times, 1 click and no reply.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 4 tracked links.
ok 4 recipient.external: lead10@client10.example is outside your workspace: opens, clicks and replies count.
ok 5 pixel.loaded: The pixel loaded 13 times: 5 by people and 8 in your own browser.
ok 6 own.some: 9 hits came from your own paired browser and are not counted.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 minutes ago.
""",
    "external recipient": """\
Opened 13 times, 4 clicks and 1 reply.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 2 tracked links.
ok 4 recipient.external: client0@buyer0.example is outside your workspace: opens, clicks and replies count.
ok 5 pixel.loaded: The pixel loaded 13 times, all by people.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.none: They clicked, and the pixel loaded for them too.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "security gateway, then the person": """\
Opened twice, no clicks and no reply.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 12 tracked links.
ok 4 recipient.external: buyer0@enterprise0.example is outside your workspace: opens, clicks and replies count.
ok 5 pixel.loaded: The pixel loaded 3 times: 1 by a machine and 2 by people.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.some: 13 of 15 hits came from machines and are not counted: Microsoft's link scanner.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "Apple Mail Privacy Protection": """\
Not opened, no clicks and no reply.
unknown - machines.prefetch_only: Apple Mail Privacy Protection fetched it 16 minutes after sending; that shows it arrived, not that anyone read it.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 3 tracked links.
ok 4 recipient.external: reader0@me0.example is outside your workspace: opens, clicks and replies count.
ok 5 pixel.loaded: The pixel loaded twice, both by machines.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
problem 7 machines.only: Both hits came from machines, not people: Apple Mail Privacy Protection.
    -> Nothing to fix: machine hits are kept out of the counts.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "Gmail image proxy, repeat opens": """\
Opened 25 times, 3 clicks and no reply.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 3 tracked links.
ok 4 recipient.external: founder0@gmail0.example is outside your workspace: opens, clicks and replies count.
ok 5 pixel.loaded: The pixel loaded 25 times, all by people.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.none: They clicked, and the pixel loaded for them too.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "images blocked, a click": """\
Opened (inferred from their click), 2 clicks and no reply.
ok - images.blocked: They clicked a link but their mail app never loaded the pixel: it blocks images.
    -> Nothing to fix: their opens are counted from their clicks.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 5 tracked links.
ok 4 recipient.external: cfo0@corp0.example is outside your workspace: opens, clicks and replies count.
problem 5 pixel.never_but_read: The tracking pixel never loaded, though they clicked.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
problem 8 inferred.click: They clicked a link, but the pixel never loaded for them: images are blocked.
    -> Nothing to fix: the open is counted, inferred from the click.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "forwarded, a chat unfurls a link": """\
Opened 3 times, 3 clicks and no reply.
ok - forwarded: Slack's link preview shows the email was probably forwarded or shared.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 3 tracked links.
ok 4 recipient.external: pm@slack-user.example is outside your workspace: opens, clicks and replies count.
ok 5 pixel.loaded: The pixel loaded 3 times, all by people.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.some: 5 of 11 hits came from machines and are not counted: Slack's link preview.
ok 8 inferred.none: They clicked, and the pixel loaded for them too.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
}

GOLDEN_PROBLEMS = {
    "1 open tracking off in the user's preferences": """\
Not opened, no clicks and no reply.
problem 1 preferences.off: Open tracking was off in your preferences when this email was sent.
    -> Switch it on in your preferences; it applies to the emails you send afterwards.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries 4 tracked links.
ok 4 recipient.external: client0@buyer0.example is outside your workspace: opens, clicks and replies count.
unknown 5 pixel.absent: The email carries no pixel, so only a click or a reply can show it was read.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "2 tracking off for this email": """\
Not opened, no clicks and no reply.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
problem 2 composer.off: Tracking was switched off for this email.
    -> Leave tracking on in the composer when you want to know about this recipient.
problem 3 injection.off: Nothing was added to the email, because tracking was switched off.
ok 4 recipient.external: client0@buyer0.example is outside your workspace: opens, clicks and replies count.
unknown 5 pixel.absent: The email carries no pixel, so only a click or a reply can show it was read.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
ok 9 delivery.ok: No bounce came back.
unknown 10 mailbox.replies_off: Replies were not tracked for this email (see above).
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "3 no HTML part": """\
Not opened, no clicks and no reply.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
problem 3 injection.no_html: The email has no HTML part, so it could not carry the tracking pixel.
    -> Write in HTML (rich text) when you want to see opens.
ok 4 recipient.external: client0@buyer0.example is outside your workspace: opens, clicks and replies count.
unknown 5 pixel.absent: The email carries no pixel, so only a click or a reply can show it was read.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "3 signed, sent untouched": """\
Not opened, no clicks and no reply.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
problem 3 injection.failed.signed: Nothing was added and the email went out as written: it is signed, and changing it would break the signature.
    -> Send tracked emails unsigned; signed emails are sent as they are.
ok 4 recipient.external: client0@buyer0.example is outside your workspace: opens, clicks and replies count.
unknown 5 pixel.absent: The email carries no pixel, so only a click or a reply can show it was read.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "3 binary junk, sent untouched": """\
Not opened, no clicks and no reply.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
problem 3 injection.failed.binary: Nothing was added and the email went out as written: it holds binary data, not the text of an email.
    -> Check the program that wrote the email; mailbeacon sent it as it was.
ok 4 recipient.external: client0@buyer0.example is outside your workspace: opens, clicks and replies count.
unknown 5 pixel.absent: The email carries no pixel, so only a click or a reply can show it was read.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "4 colleague not recognised: no workspace domain": """\
Not opened, no clicks and no reply.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 2 tracked links.
problem 4 recipient.domain_unset: bob@acme.test shares your domain, but your workspace has no domain set, so they count as outside it.
    -> Add acme.test to your workspace's domains so that colleagues are recognised.
problem 5 pixel.never: The tracking pixel has not loaded at all.
    -> They have not opened it yet, or their mail app, an ad-blocker or antivirus blocks images.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "5 the pixel never loaded": """\
Not opened, no clicks and no reply.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 2 tracked links.
ok 4 recipient.external: client0@buyer0.example is outside your workspace: opens, clicks and replies count.
problem 5 pixel.never: The tracking pixel has not loaded at all.
    -> They have not opened it yet, or their mail app, an ad-blocker or antivirus blocks images.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "6 browser not paired, opens counted": """\
Opened 13 times, 4 clicks and no reply.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 2 tracked links.
ok 4 recipient.external: client0@buyer0.example is outside your workspace: opens, clicks and replies count.
ok 5 pixel.loaded: The pixel loaded 13 times, all by people.
problem 6 own.unpaired: Your browser is not paired, so your own views of this email may count as opens.
    -> Pair your browser: install the mailbeacon extension or sign in to the dashboard.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.none: They clicked, and the pixel loaded for them too.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
unknown 10 extension.none: No browser extension is paired, so your views in webmail cannot be recognised as yours.
    -> Install the mailbeacon extension in the browser you read mail in.
""",
    "7 only machines so far": """\
Not opened, no clicks and no reply.
unknown - machines.only: Microsoft's link scanner fetched it and clicked 12 links 4 minutes after sending; nobody has read it yet.
unknown - machines.quarantine: A security gateway checked it and no person followed: it may be held in quarantine.
    -> Ask the recipient whether it arrived, or to look in their quarantine or spam folder.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 12 tracked links.
ok 4 recipient.external: buyer0@enterprise0.example is outside your workspace: opens, clicks and replies count.
ok 5 pixel.loaded: The pixel loaded once, by a machine.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
problem 7 machines.only: All 13 hits came from machines, not people: Microsoft's link scanner.
    -> Nothing to fix: machine hits are kept out of the counts.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "9 bounced after a gateway scanned it": """\
Not opened, no clicks and no reply.
problem - machines.bounced: Microsoft's link scanner fetched it and clicked 5 links 35 seconds after sending, but the email bounced: nobody read it.
    -> Check the address and send it again.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 5 tracked links.
ok 4 recipient.external: nobody@enterprise-x.example is outside your workspace: opens, clicks and replies count.
ok 5 pixel.loaded: The pixel loaded once, by a machine.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
problem 7 machines.only: All 7 hits came from machines, not people: Microsoft's link scanner.
    -> Nothing to fix: machine hits are kept out of the counts.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
problem 9 delivery.bounced: A bounce came back 6 minutes after sending.
    -> Check the address: the machine hits came from the receiving server's gateway, not a person.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "9 refused by the outgoing server": """\
Not opened, no clicks and no reply.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 2 tracked links.
ok 4 recipient.external: client0@buyer0.example is outside your workspace: opens, clicks and replies count.
problem 5 pixel.undelivered: The tracking pixel has not loaded: the email did not reach them (see below).
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
problem 9 delivery.refused: Your outgoing mail server refused this address: 550 5.1.1 <client0@buyer0.example>: Recipient address rejected.
    -> Check the address and send the email again.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "10 mailbox failing": """\
Not opened, no clicks and no reply.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 2 tracked links.
ok 4 recipient.external: client0@buyer0.example is outside your workspace: opens, clicks and replies count.
problem 5 pixel.never: The tracking pixel has not loaded at all.
    -> They have not opened it yet, or their mail app, an ad-blocker or antivirus blocks images.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
unknown 9 delivery.unwatched: No bounce has been seen, but your mailbox is not being checked.
problem 10 mailbox.error: Your mailbox alice@imap.acme.test is failing: LOGIN failed: authentication failed.
    -> Fix its password or server settings; replies are picked up once it connects again.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "10 no mailbox, extension never seen": """\
Not opened, no clicks and no reply.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 2 tracked links.
ok 4 recipient.external: client0@buyer0.example is outside your workspace: opens, clicks and replies count.
problem 5 pixel.never: The tracking pixel has not loaded at all.
    -> They have not opened it yet, or their mail app, an ad-blocker or antivirus blocks images.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
unknown 9 delivery.unseen: No bounce has been seen, but no mailbox is connected to see one.
problem 10 mailbox.none: No mailbox is connected for you, so replies and bounces cannot be seen.
    -> Connect your mailbox (IMAP) to mailbeacon.
problem 10 extension.silent: Your extension is paired but has never reported a view of your mail.
    -> Allow the extension on your webmail site in the browser's extension settings.
""",
}

GOLDEN_SILENCE = {
    "tracking address with a local name": """\
Not opened, no clicks and no reply.
problem - address.local_name: The tracking address https://mailbeacon.lan is a local name, so recipients cannot load the pixel or open tracked links.
    -> Give mailbeacon a public https address (setting public_url); it applies to emails sent afterwards.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 2 tracked links.
ok 4 recipient.external: client0@buyer0.example is outside your workspace: opens, clicks and replies count.
problem 5 pixel.never: The tracking pixel has not loaded at all.
    -> They have not opened it yet, or their mail app, an ad-blocker or antivirus blocks images.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "tracking address on loopback": """\
Not opened, no clicks and no reply.
problem - address.loopback: The tracking address http://127.0.0.1:8025 points at this machine, so no recipient can load the pixel or open tracked links.
    -> Give mailbeacon a public https address (setting public_url); it applies to emails sent afterwards.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 2 tracked links.
ok 4 recipient.external: client0@buyer0.example is outside your workspace: opens, clicks and replies count.
problem 5 pixel.never: The tracking pixel has not loaded at all.
    -> They have not opened it yet, or their mail app, an ad-blocker or antivirus blocks images.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "tracking address over plain http": """\
Not opened, no clicks and no reply.
unknown - address.plain_http: The tracking address http://t.acme.com uses plain http, so some mail apps block the pixel and your own browser is not recognised.
    -> Give mailbeacon a public https address (setting public_url); it applies to emails sent afterwards.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 2 tracked links.
ok 4 recipient.external: client0@buyer0.example is outside your workspace: opens, clicks and replies count.
problem 5 pixel.never: The tracking pixel has not loaded at all.
    -> They have not opened it yet, or their mail app, an ad-blocker or antivirus blocks images.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "over Gmail's clipping size": """\
Not opened, no clicks and no reply.
problem - size.gmail_clipped: The email is 128 KB of HTML, over Gmail's 102 KB limit: Gmail cuts it short and hides the rest behind a link.
    -> Keep emails under 100 KB: fewer embedded images, less formatting.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 2 tracked links.
ok 4 recipient.external: client0@buyer0.example is outside your workspace: opens, clicks and replies count.
problem 5 pixel.never: The tracking pixel has not loaded at all.
    -> They have not opened it yet, or their mail app, an ad-blocker or antivirus blocks images.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "a bounce for no one recipient": """\
Not opened, no clicks and no reply.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 2 tracked links.
ok 4 recipient.external: client0@buyer0.example is outside your workspace: opens, clicks and replies count.
problem 5 pixel.never: The tracking pixel has not loaded at all.
    -> They have not opened it yet, or their mail app, an ad-blocker or antivirus blocks images.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
unknown 9 delivery.unattributed: A bounce came back for this email, but it does not say which recipient it was for.
    -> Look at the bounce in your mailbox to see which address failed.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "an out-of-office came back": """\
Not opened, no clicks and no reply.
ok - replies.automatic: An automatic reply (such as an out-of-office) came back 10 minutes after sending; it does not count as a reply.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 2 tracked links.
ok 4 recipient.external: client0@buyer0.example is outside your workspace: opens, clicks and replies count.
problem 5 pixel.never: The tracking pixel has not loaded at all.
    -> They have not opened it yet, or their mail app, an ad-blocker or antivirus blocks images.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
    "hits still being checked": """\
Opened once, no clicks and no reply.
unknown - hits.pending: 2 hits are still being checked and not counted yet.
    -> Look again in 2 minutes.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 2 tracked links.
ok 4 recipient.external: client0@buyer0.example is outside your workspace: opens, clicks and replies count.
ok 5 pixel.loaded: The pixel loaded once, by a person.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.none: They clicked, and the pixel loaded for them too.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 3 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 1 hour ago.
""",
    "no From: line": """\
Not opened, no clicks and no reply.
problem - headers.no_from: The email has no From: line, and many receiving servers (Gmail among them) refuse such mail.
    -> Check the program that wrote the email: it must set From.
ok 1 preferences.on: Your preferences allowed tracking opens, clicks and replies.
ok 2 composer.on: Tracking was not switched off for this email.
ok 3 injection.done: The email carries a tracking pixel and 4 tracked links.
ok 4 recipient.external: client0@buyer0.example is outside your workspace: opens, clicks and replies count.
problem 5 pixel.never: The tracking pixel has not loaded at all.
    -> They have not opened it yet, or their mail app, an ad-blocker or antivirus blocks images.
ok 6 own.none: Your browser is paired, and none of the hits were your own views.
ok 7 machines.none: No machine has touched it.
ok 8 inferred.no_clicks: No click came in without the pixel loading.
ok 9 delivery.ok: No bounce came back.
ok 10 mailbox.ok: Your mailbox alice@imap.acme.test is connected; it was last checked 5 minutes ago.
ok 10 extension.ok: Your extension is paired; it was last seen 2 hours ago.
""",
}


def _answer(case: Case) -> str:
    facts, now = case.pure()
    return render(diagnose(facts, now))


@pytest.mark.parametrize("name", list(SCENARIO_ROWS))
def test_every_scenario_row_has_its_whole_answer(name: str) -> None:
    assert _answer(SCENARIO_ROWS[name]) == GOLDEN_SCENARIO[name].rstrip("\n")


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_the_problem_case_of_every_checklist_item(name: str) -> None:
    answer = _answer(PROBLEMS[name])
    assert answer == GOLDEN_PROBLEMS[name].rstrip("\n")
    item = name.split()[0]
    assert re.search(rf"^problem {item} ", answer, re.M), "the item's own line must be the problem"


def test_every_checklist_item_has_a_problem_case() -> None:
    covered = {int(name.split()[0]) for name in PROBLEMS}
    scenario_problems = {
        int(line.split()[1])
        for text in GOLDEN_SCENARIO.values()
        for line in text.splitlines()
        if line.startswith("problem ") and line.split()[1].isdigit()
    }
    assert covered | scenario_problems == set(range(1, 11))


@pytest.mark.parametrize("name", list(SILENCE))
def test_each_fact_that_explains_silence(name: str) -> None:
    assert _answer(SILENCE[name]) == GOLDEN_SILENCE[name].rstrip("\n")


# -- the parts ------------------------------------------------------------------------------------

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _hit(
    verdict: VerdictClass | None, *codes: str, kind: HitKind = HitKind.CLICK, subtype: str | None = None
) -> HitFact:
    return HitFact(kind, T0, 0, verdict, subtype, tuple(Reason(c, c) for c in codes))


@pytest.mark.parametrize(
    ("hit", "name"),
    [
        (_hit(VerdictClass.SCANNER, "link_burst", "after_send", "network_microsoft"), "Microsoft's link scanner"),
        (_hit(VerdictClass.SCANNER, "mimecast", "after_send"), "Mimecast's link scanner"),
        (_hit(VerdictClass.SCANNER, "barracuda", "network_microsoft"), "Barracuda's email scanner"),
        (_hit(VerdictClass.MACHINE_OPEN, "apple_mpp", kind=HitKind.OPEN), "Apple Mail Privacy Protection"),
        (_hit(VerdictClass.PREVIEW, "chat_unfurl", subtype="slack"), "Slack's link preview"),
        (_hit(VerdictClass.PREVIEW, "link_preview", subtype="newcomer"), "a link preview"),
        (_hit(VerdictClass.SCANNER, "decoy_link"), "a security scanner"),
        (_hit(VerdictClass.SCANNER, "unknown_tool", "network_microsoft"), "an automated tool"),
        (_hit(VerdictClass.MACHINE_OPEN, "gmail_prefetch", kind=HitKind.OPEN), "Gmail's image prefetch"),
    ],
)
def test_machines_are_named_from_their_verdicts(hit: HitFact, name: str) -> None:
    assert name_of(hit) == name


def test_the_naming_table_ends_with_every_machine_class() -> None:
    assert [row[1] for row in NAMES if row[0] == "class"] == ["preview", "machine_open", "scanner"]


@pytest.mark.parametrize(
    ("url", "codes"),
    [
        ("http://127.0.0.1:8025", ["loopback", "plain_http"]),
        ("https://localhost:8025", ["loopback"]),
        ("https://[::1]/", ["loopback"]),
        ("https://10.1.2.3", ["private"]),
        ("https://192.168.1.20:8443", ["private"]),
        ("https://tracker.local", ["local_name"]),
        ("http://t.acme.com", ["plain_http"]),
        ("https://t.acme.com", []),
    ],
)
def test_tracking_address_reachability(url: str, codes: list[str]) -> None:
    assert public_url_issues(url) == codes


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0, "0 seconds"), (1, "1 second"), (4.9, "4 seconds"), (60, "1 minute"), (7300, "2 hours"), (3 * 86400, "3 days")],
)
def test_spans_of_time_in_words(seconds: float, words: str) -> None:
    assert span(seconds) == words


# -- every answer, whatever the facts ---------------------------------------------------------------

_CLASSES = st.sampled_from([*VerdictClass, None])
_HITS = st.lists(
    st.builds(
        HitFact,
        kind=st.sampled_from(list(HitKind)),
        at=st.integers(0, 10**6).map(lambda s: T0 + timedelta(seconds=s)),
        link=st.one_of(st.none(), st.integers(0, 5)),
        verdict=_CLASSES,
        subtype=st.sampled_from([None, "slack", "apple_mpp", "direct"]),
        reasons=st.lists(
            st.sampled_from(["network_microsoft", "apple_mpp", "person", "link_burst", "mimecast"]), max_size=3
        ).map(lambda cs: tuple(Reason(c, f"text of {c}") for c in cs)),
        settled=st.booleans(),
        device_id=st.sampled_from([None, "dv_1"]),
    ),
    max_size=30,
)
_REPLIES = st.lists(
    st.builds(
        ReplyFact,
        kind=st.sampled_from(list(ReplyKind)),
        at=st.integers(0, 10**6).map(lambda s: T0 + timedelta(seconds=s)),
        from_address=st.just("bob@client.example"),
        warning=st.booleans(),
    ),
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(
    hits=_HITS,
    replies=_REPLIES,
    relation=st.sampled_from(list(Relation)),
    switches=st.builds(TrackingChoice, st.booleans(), st.booleans(), st.booleans(), st.just(("opens-off-user",))),
    injection=st.one_of(
        st.none(), st.builds(Injection, st.booleans(), st.booleans(), st.booleans(), st.booleans(), st.integers(0, 9))
    ),
    relay=st.sampled_from([None, "", "550 no such user"]),
    mailboxes=st.lists(
        st.builds(MailboxFact, st.just(1), st.just("imaps://a@imap.x.test"), st.sampled_from(["connected", "error"])),
        max_size=2,
    ),
    url=st.sampled_from(["https://t.acme.com", "http://127.0.0.1:8025", "http://t.acme.com", "https://t.acme.test"]),
)
def test_every_answer_has_every_item_in_order_and_plain_sentences(
    hits: list[HitFact],
    replies: list[ReplyFact],
    relation: Relation,
    switches: TrackingChoice,
    injection: Injection | None,
    relay: str | None,
    mailboxes: list[MailboxFact],
    url: str,
) -> None:
    facts = Facts(
        message_id=7,
        rfc_message_id="<m@acme.test>",
        subject="Proposal",
        sender="alice@acme.test",
        sent_at=T0,
        recipient="bob@client.example",
        relation=relation,
        switches=switches,
        injection=injection,
        public_url=url,
        relay=relay,
        hits=tuple(hits),
        replies=tuple(replies),
        mailboxes=tuple(mailboxes),
    )
    answer = diagnose(facts, T0 + timedelta(days=30))
    assert [line.item for line in answer.checklist] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10]
    assert all(line.item is None for line in answer.notes)
    codes = {r.code for h in hits for r in h.reasons} | {line.code for line in answer.lines}
    for line in answer.lines:
        assert line.status in Status
        for sentence in (line.text, line.todo or "X."):
            assert sentence[:1].isupper() or sentence[:1].isdigit() or sentence.startswith(("bob@", "a ", "an ")), (
                sentence
            )
            assert sentence.endswith("."), sentence
            assert not any(re.search(rf"\b{re.escape(c)}\b", sentence) for c in codes if "_" in c or "." in c), sentence
    assert answer.as_json()["checklist"][0]["status"] in ("ok", "problem", "unknown")


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("forward-teams-unfurl-85", "Microsoft Teams's link preview shows the email was probably forwarded or shared."),
        ("forward-linkedin-unfurl-90", "LinkedIn's link preview shows the email was probably forwarded or shared."),
        (
            "forward-microsoft-unfurl-87",
            "Microsoft 365's link preview shows the email was probably forwarded or shared.",
        ),
        ("bing-preview-102", None),  # a search engine's page preview says nothing about a forward
    ],
)
def test_a_forward_is_told_by_chat_and_social_previews_only(name: str, line: str | None) -> None:
    from why_seeding import end_of, pure_facts, scenario

    sc = scenario(name)
    notes = {n.code: n.text for n in diagnose(pure_facts(sc), end_of(sc)).notes}
    assert notes.get("forwarded") == line


def test_the_answer_is_pure_no_boundary_library_and_no_clock() -> None:
    import subprocess
    import sys
    from pathlib import Path

    code = "import sys, mailbeacon.diagnose; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    )
    assert not loaded & {"sqlalchemy", "starlette", "aiosmtpd", "aiosmtplib", "rich", "typer", "psycopg", "httpx"}
    source = "".join(p.read_text() for p in (Path(__file__).parents[1] / "src/mailbeacon/diagnose").glob("*.py"))
    assert not re.search(r"\.now\(|time\.time\(|\bopen\(|system_clock", source)
