"""`mailbeacon demo`: a throw-away mailbeacon that plays a realistic day, then serves it.

- `script.py`, `everyday.py`: the day as data (senders, recipients, who does what when, and the
  counts PRODUCT.md's scenario table expects); `actors.py`: the clients making the requests;
- `mail.py`: the emails (the templates in `templates/`, see MANIFEST.md there) and the answers;
- `play.py`: sending through the SMTP proxy and playing each step over HTTP on the demo's clock;
- `check.py`: the counters beside the expected ones; `session.py`: one run, start to end.
"""
