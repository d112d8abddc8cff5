"""Submitting mail to an SMTP server as a mail client does (AUTH, then one message at a time)."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib


class Submission:
    """One logged-in client session: `async with Submission(...) as s: await s.send(msg)`."""

    def __init__(self, host: str, port: int, username: str, password: str, *, timeout: float = 60.0) -> None:
        self._client = aiosmtplib.SMTP(
            hostname=host,
            port=port,
            username=username,
            password=password,
            start_tls=False,
            use_tls=False,
            timeout=timeout,
        )

    async def __aenter__(self) -> Submission:
        await self._client.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._client.quit()
        except aiosmtplib.SMTPException:
            self._client.close()

    async def send(self, message: EmailMessage) -> str:
        """Submit `message` to its To/Cc/Bcc recipients; the server's answer (e.g. `250 ...`)."""
        _, answer = await self._client.send_message(message)
        return answer
