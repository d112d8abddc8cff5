"""Rewriting throughput: instrumented emails per second on one core, against lxml and selectolax.

    python bench/rewrite.py [--rounds 3] [--seconds 1.0] [--cpu 1]

The email is real corpus content, concatenated (no single corpus template has ~40 live links):
the head and body of `cerberus-fluid.html` (MSO conditional comments, VML, entities) with the
bodies of `konsav-general`, `konsav-promotional`, `foundation-inky-sidebar-hero`,
`foundation-inky-hero` and `leemunroe-email` inserted before its `</body>`, and every
`href="#"` placeholder of those templates filled with a real URL taken from the corpus (as a
sender fills a template). About 60 KB with 40 live links; sent as the HTML alternative of a
multipart/alternative message (quoted-printable, UTF-8).

Every method signs real HMAC tokens (the same Keyring) and injects a pixel (no decoy link, which
the parsers would not add either). Methods, each timed
in turns within every round (median over rounds):

- mailbeacon per email: `prepare()` + `render()` for one recipient (MIME parsing, HTML scan,
  the self-check that parses the output back, QP encoding);
- mailbeacon per extra recipient: `render()` only (the scan is done once per message);
- mailbeacon HTML only: `scan_html()` + `render_html()` on the HTML text;
- instrument() with SQLite: the Python API, storing message, recipient and links (1 recipient);
- lxml / selectolax: parse the HTML, rewrite `<a href>`, add the pixel, serialize;
- [ref] lxml / selectolax: parse and serialize only.

"byte-faithful" checks each method's HTML output against the input outside href values and the
pixel (for the [ref] rows: output identical to the input). The machine is shared and noisy: read the ratios, measured in the same run.
"""

from __future__ import annotations

import argparse
import email
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus" / "html"
PUBLIC = "https://t.example.test"
WRAPPER = "cerberus-fluid.html"
BODIES = [
    "konsav-general.html",
    "konsav-promotional.html",
    "foundation-inky-sidebar-hero.html",
    "foundation-inky-hero.html",
    "leemunroe-email.html",
]


def build_html() -> str:
    from mailbeacon.rewrite import HtmlOptions, scan_html

    def body(name: str) -> str:
        text = (CORPUS / name).read_text("utf-8")
        m = re.search(r"<body[^>]*>(.*)</body>", text, re.S | re.I)
        return m.group(1) if m else text

    urls: list[str] = []
    for path in sorted(CORPUS.glob("*.html")):
        urls += scan_html(path.read_text("utf-8", "surrogateescape"), HtmlOptions(public_url=PUBLIC)).links
    urls = list(dict.fromkeys(urls))
    html = (CORPUS / WRAPPER).read_text("utf-8")
    html = html.replace("</body>", "".join(body(n) for n in BODIES) + "</body>", 1)
    counter = iter(range(10**6))
    return re.sub(r'href="#"', lambda m: f'href="{urls[next(counter) % len(urls)]}"', html)


def build_message(html: str) -> bytes:
    m = EmailMessage()
    m["From"] = "Alice <alice@acme.test>"
    m["To"] = "bob@client.test"
    m["Subject"] = "Spring offers"
    m["Message-ID"] = "<bench@acme.test>"
    m.set_content("Our spring offers: https://example.com/")
    m.add_alternative(html, subtype="html", cte="quoted-printable")
    return m.as_bytes(policy=m.policy.clone(linesep="\r\n"))


_HREF = re.compile(r"""(\bhref\s*=\s*)("[^"]*"|'[^']*'|[^\s>]+)""", re.I)
_PIXEL = re.compile(r"<img[^>]*/o/[^>]*>(<a [^>]*></a>)?", re.I)


def faithful(original: str, output: str) -> bool:
    """Equal outside href values and the injected pixel (quote style and case still count)."""

    def mask(s: str) -> str:
        return _HREF.sub(lambda m: m.group(1) + m.group(2)[:1], s)

    return mask(_PIXEL.sub("", output)) == mask(original)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=1.0, help="time per method per round")
    ap.add_argument("--cpu", type=int, default=None, help="pin to this CPU (one core)")
    args = ap.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})

    import lxml.html
    from selectolax.lexbor import LexborHTMLParser

    from mailbeacon.config import load_settings
    from mailbeacon.instrumentation import instrument
    from mailbeacon.model import HitKind
    from mailbeacon.passwords import hash_password
    from mailbeacon.rewrite import HtmlOptions, Options, pixel_markup, prepare, render, render_html, scan_html
    from mailbeacon.runtime import Runtime
    from mailbeacon.tokens import Keyring

    html = build_html()
    raw = build_message(html)
    keyring = Keyring({1: b"k" * 32})
    rcpt = iter(range(1, 10**9))

    class Urls:
        def __init__(self) -> None:
            self.r = next(rcpt)

        def click(self, i: int) -> str:
            return f"{PUBLIC}/c/{keyring.sign(HitKind.CLICK, 1, 1, self.r, link=i)}"

        def pixel(self) -> str:
            return f"{PUBLIC}/o/{keyring.sign(HitKind.OPEN, 1, 1, self.r)}.gif"

        def decoy(self) -> str:
            return f"{PUBLIC}/c/{keyring.sign(HitKind.DECOY, 1, 1, self.r)}"

    opts = Options(public_url=PUBLIC, decoy=False)
    prepared = prepare(raw, opts)
    assert prepared.failure is None, prepared.failure
    links = len(prepared.links)

    def mb_email() -> bytes:
        return render(prepare(raw, opts), Urls())

    def mb_recipient() -> bytes:
        return render(prepared, Urls())

    def html_of(message: bytes) -> str:
        part = next(p for p in email.message_from_bytes(message).walk() if p.get_content_type() == "text/html")
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode("utf-8")

    def mb_html() -> str:
        u = Urls()
        plan = scan_html(html, HtmlOptions(public_url=PUBLIC))
        return render_html(plan, u.click, pixel_markup(u.pixel(), None))

    def with_lxml() -> str:
        u = Urls()
        root = lxml.html.fromstring(html)
        i = 0
        for a in root.iter("a"):
            href = (a.get("href") or "").strip()
            if href.lower().startswith(("http:", "https:")):
                a.set("href", u.click(i))
                i += 1
        body = root.find("body")
        img = lxml.html.fromstring(pixel_markup(u.pixel(), None))
        (body if body is not None else root).append(img)
        return lxml.html.tostring(root.getroottree(), encoding="unicode")

    def with_selectolax() -> str:
        u = Urls()
        tree = LexborHTMLParser(html)
        i = 0
        for a in tree.css("a[href]"):
            href = (a.attributes.get("href") or "").strip()
            if href.lower().startswith(("http:", "https:")):
                a.attrs["href"] = u.click(i)
                i += 1
        if tree.body is not None:
            tree.body.insert_child(LexborHTMLParser(pixel_markup(u.pixel(), None)).css_first("img"))
        return tree.html or ""

    def lxml_ref() -> str:
        return str(lxml.html.tostring(lxml.html.fromstring(html).getroottree(), encoding="unicode"))

    def selectolax_ref() -> str:
        return LexborHTMLParser(html).html or ""

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            environ={}, overrides={"database_url": f"sqlite:///{tmp}/bench.db", "data_dir": tmp, "public_url": PUBLIC}
        )
        rt = Runtime.open(settings)
        ws = rt.store.create_workspace("acme", ["acme.test"], rt.clock())
        rt.store.create_user(ws.id, "alice@acme.test", hash_password("x"), rt.clock())

        def with_store() -> None:
            instrument(rt, raw, sender="alice@acme.test")

        methods: dict[str, Callable[[], object]] = {
            "mailbeacon, per email (prepare+render)": mb_email,
            "mailbeacon, per extra recipient (render)": mb_recipient,
            "mailbeacon, HTML only (scan+render)": mb_html,
            "instrument() incl. SQLite insert": with_store,
            "lxml parse+rewrite+serialize": with_lxml,
            "selectolax parse+rewrite+serialize": with_selectolax,
            "[ref] lxml parse+serialize": lxml_ref,
            "[ref] selectolax parse+serialize": selectolax_ref,
        }
        fidelity = {
            # the message's HTML as the input message carries it (its line ends are CRLF)
            "mailbeacon, per email (prepare+render)": faithful(html_of(raw), html_of(mb_email())),
            "mailbeacon, per extra recipient (render)": faithful(html_of(raw), html_of(mb_recipient())),
            "mailbeacon, HTML only (scan+render)": faithful(html, mb_html()),
            "lxml parse+rewrite+serialize": faithful(html, with_lxml()),
            "selectolax parse+rewrite+serialize": faithful(html, with_selectolax()),
            "[ref] lxml parse+serialize": lxml_ref() == html,
            "[ref] selectolax parse+serialize": selectolax_ref() == html,
        }
        rates: dict[str, list[float]] = {name: [] for name in methods}
        for _ in range(args.rounds):
            for name, fn in methods.items():
                n, start = 0, time.perf_counter()
                deadline = start + args.seconds
                while True:
                    fn()
                    n += 1
                    now = time.perf_counter()
                    if now >= deadline:
                        break
                rates[name].append(n / (now - start))
        rt.close()

    med = {name: statistics.median(r) for name, r in rates.items()}
    lx, sx = med["lxml parse+rewrite+serialize"], med["selectolax parse+rewrite+serialize"]
    print(f"email: {len(html.encode())} bytes of HTML, {links} live links; message {len(raw)} bytes")
    print(f"python {sys.version.split()[0]}, rounds {args.rounds} x {args.seconds:.1f} s, cpu {args.cpu}")
    print(f"{'method':44} {'emails/s':>10} {'ms/email':>9} {'x lxml':>7} {'x selectolax':>12}  byte-faithful")
    for name, rate in med.items():
        f = fidelity.get(name)
        mark = "" if f is None else ("yes" if f else "no")
        print(f"{name:44} {rate:10,.0f} {1000 / rate:9.2f} {rate / lx:7.2f} {rate / sx:12.2f}  {mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
