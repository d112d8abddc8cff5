"""Webhooks: the outbox's events sent to the endpoints of a workspace, signed, retried, logged.

`schedule.py` (when to try again, when to give up, when an endpoint is disabled) and
`targets.py` (which addresses may be dialled) are pure; `sender.py` resolves, checks and sends
one delivery with httpx; `worker.py` is the task `mailbeacon serve` runs. The SQL is in
`store/webhooks.py`. What a receiver sees is in docs/webhooks.md.
"""
