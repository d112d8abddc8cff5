"""The demo's messages: the emails its senders write, and the mail that comes back.

Each email is a template of `templates/` (MANIFEST.md there says where each comes from) as its
HTML part, with a short text part, as a mail client would submit it. What comes back is what a
recipient's mailbox or mail server would write: a reply, an out-of-office answer, a delivery
status notification (RFC 3464) for an address that does not exist.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from functools import cache
from importlib.resources import files

from .script import Send

TEMPLATES = "templates"


@cache
def template(name: str) -> str:
    return (files(__package__) / TEMPLATES / name).read_text(encoding="utf-8")


def email_of(send: Send, at: datetime, n: int) -> EmailMessage:
    """The message `send.sender` submits to the SMTP proxy."""
    first = send.name.split(" ")[0]
    m = EmailMessage()
    m["From"] = formataddr((send.sender.name, send.sender.email))
    m["To"] = formataddr((send.name, send.to))
    m["Subject"] = send.subject
    m["Date"] = format_datetime(at)
    m["Message-ID"] = make_msgid(f"demo{n}", domain=send.sender.email.split("@")[1])
    m.set_content(f"Hi {first},\n\n{send.subject}: the details are in this email.\n\n{send.sender.name}\n")
    m.add_alternative(template(send.template), subtype="html")
    return m


def _answer(send: Send, message_id: str, at: datetime, sender: tuple[str, str], subject: str) -> EmailMessage:
    m = EmailMessage()
    m["From"] = formataddr(sender)
    m["To"] = formataddr((send.sender.name, send.sender.email))
    m["Subject"] = subject
    m["Date"] = format_datetime(at)
    m["Message-ID"] = make_msgid("answer", domain=sender[1].split("@")[1])
    m["In-Reply-To"] = message_id
    m["References"] = message_id
    return m


def reply_of(send: Send, message_id: str, at: datetime) -> bytes:
    """The recipient's own answer (R7: a reply)."""
    m = _answer(send, message_id, at, (send.name, send.to), f"Re: {send.subject}")
    first = send.sender.name.split(" ")[0]
    m.set_content(f"Hi {first},\n\nThanks, this looks good. Can we talk on Thursday?\n\n{send.name}\n")
    return bytes(m)


def auto_reply_of(send: Send, message_id: str, at: datetime) -> bytes:
    """An out-of-office answer (RFC 3834 `Auto-Submitted`): an auto-reply, not a reply."""
    m = _answer(send, message_id, at, (send.name, send.to), f"Out of office: {send.subject}")
    m["Auto-Submitted"] = "auto-replied"
    m.set_content("I am out of the office until Monday with limited access to email.\n")
    return bytes(m)


def bounce_of(send: Send, message_id: str, at: datetime) -> bytes:
    """The recipient's mail server: no such mailbox (a delivery status notification, RFC 3464)."""
    domain = send.to.split("@")[1]
    boundary = f"dsn-{abs(hash((send.to, message_id))):x}"
    lines = [
        f"From: Mail Delivery System <MAILER-DAEMON@mx.{domain}>",
        f"To: {send.sender.email}",
        "Subject: Undelivered Mail Returned to Sender",
        f"Date: {format_datetime(at)}",
        f"Message-ID: {make_msgid('dsn', domain=f'mx.{domain}')}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        f"Your message could not be delivered to {send.to}: the mailbox does not exist.",
        "",
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        f"Reporting-MTA: dns; mx.{domain}",
        "",
        f"Final-Recipient: rfc822; {send.to}",
        "Action: failed",
        "Status: 5.1.1",
        f"Diagnostic-Code: smtp; 550 5.1.1 <{send.to}>: Recipient address rejected: User unknown",
        "",
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "",
        f"From: {send.sender.email}",
        f"To: {send.to}",
        f"Subject: {send.subject}",
        f"Message-ID: {message_id}",
        "",
        f"--{boundary}--",
        "",
    ]
    return "\r\n".join(lines).encode()
