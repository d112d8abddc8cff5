"""Pixel and click throughput: `mailbeacon serve` against nginx, measured in the same run.

    python bench/pixel.py [--rounds 3] [--duration 10] [--connections 64] [--http-server granian]

Each round runs wrk (pinned to CPU 0) against nginx serving a static 43-byte GIF / `return 302`
and against `mailbeacon serve` (pinned to CPU 1, recording every hit into SQLite), alternating.
Prints req/s, the ratio to nginx and p99 per round, the median ratio, and checks that after the
run the database holds one row per request answered.

Needs the Debian packages wrk and nginx-light. Machines here are shared and noisy: read ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from mailbeacon.config import load_settings
from mailbeacon.model import HitKind, RecipientField, Relation
from mailbeacon.passwords import hash_password
from mailbeacon.runtime import Runtime
from mailbeacon.store import NewRecipient, open_store

GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x01\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x01\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02L\x01\x00;"
)
UA = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  open_file_cache max=100;
  sendfile on;
  tcp_nodelay on;
  server {{
    listen 127.0.0.1:{port};
    root {dir}/www;
    location ^~ /o/ {{ default_type image/gif; try_files /pixel.gif =404; }}
    location ^~ /c/ {{ return 302 https://example.com/b?x=1&y=2; }}
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not come up")


def wrk(url: str, duration: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "0",
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-H",
            f"User-Agent: {UA}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    p99_ms = float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps,
        "requests": total,
        "p99_ms": p99_ms,
        "bad": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1) if errors else "",  # type: ignore[dict-item]
    }


def serve_starlette_variant(port: int, db: str, data: str) -> None:
    """The same tracking endpoint behind Starlette's router (what raw ASGI is compared with)."""
    import asyncio

    import uvloop
    from granian.constants import Interfaces
    from granian.server.embed import Server
    from starlette.applications import Starlette
    from starlette.routing import Route

    from mailbeacon.intake import Intake
    from mailbeacon.pipeline import Pipeline
    from mailbeacon.web.app import create_app

    async def run() -> None:
        import gc

        gc.freeze()  # as `mailbeacon serve` does
        gc.set_threshold(50_000, 20, 20)
        rt = Runtime.open(load_settings(environ={}, overrides={"database_url": db, "data_dir": data}))
        intake = Intake(rt.store, Path(data) / "journal-starlette")
        intake.start(asyncio.get_running_loop())
        tracking = create_app(rt, intake, Pipeline(rt))

        class Pixel:  # an ASGI object: Starlette routes to it and does not wrap it in a Request
            async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
                await tracking.pixel(scope, scope["path_params"]["token"], send)

        app = Starlette(routes=[Route("/o/{token}", Pixel())])
        await Server(app, address="127.0.0.1", port=port, interface=Interfaces.ASGINL, websockets=False).serve()

    uvloop.run(run())


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--serve-starlette":
        serve_starlette_variant(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--http-server", default="granian", choices=["granian", "uvicorn"])
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument(
        "--compare-starlette", action="store_true", help="also run the pixel behind Starlette's router (same run)"
    )
    ap.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a mailbeacon setting for the server"
    )
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mb-bench-"))
    work.chmod(0o755)  # nginx workers run as an unprivileged user
    (work / "www").mkdir()
    (work / "www" / "pixel.gif").write_bytes(GIF)
    db = f"sqlite:///{work / 'bench.db'}"
    settings = load_settings(environ={}, overrides={"database_url": db, "data_dir": str(work / "data")})
    rt = Runtime.open(settings)
    now = datetime.now(UTC)
    ws = rt.store.create_workspace("bench", ["bench.test"], now)
    user = rt.store.create_user(ws.id, "sender@bench.test", hash_password("x"), now)
    msg, (rcpt,) = rt.store.create_message(
        workspace_id=ws.id, user_id=user.id, rfc_message_id="<bench@bench.test>", sender=user.email,
        subject="bench", sent_at=now, links=["https://example.com/a", "https://example.com/b?x=1&y=2"],
        decoy_link=2, tracking={"opens": True, "clicks": True, "replies": True, "reasons": []},
        outcome={"html": True, "instrumented": True, "failure": None, "notes": []}, source="python",
        recipients=[NewRecipient("reader@client.example", RecipientField.TO, Relation.EXTERNAL)],
    )  # fmt: skip
    pixel = rt.keyring.sign(HitKind.OPEN, ws.id, msg.id, rcpt.id)
    click = rt.keyring.sign(HitKind.CLICK, ws.id, msg.id, rcpt.id, 1)
    rt.close()

    nginx_port, mb_port = free_port(), free_port()
    (work / "nginx.conf").write_text(NGINX_CONF.format(dir=work, port=nginx_port))
    nginx = subprocess.Popen(["taskset", "-c", "1", "nginx", "-c", str(work / "nginx.conf")])
    env = {
        **os.environ,
        "MAILBEACON_DATABASE_URL": db,
        "MAILBEACON_DATA_DIR": str(work / "data"),
        "MAILBEACON_SMTP": "off",
        "MAILBEACON_HTTP_SERVER": args.http_server,
        "MAILBEACON_LOG_LEVEL": "warning",
        **{"MAILBEACON_" + kv.split("=", 1)[0].upper(): kv.split("=", 1)[1] for kv in args.set},
    }
    mb = subprocess.Popen(
        ["taskset", "-c", "1", sys.executable, "-m", "mailbeacon", "serve", "--http", f"127.0.0.1:{mb_port}"],
        env=env,
        stdout=open(work / "serve.log", "w"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    st_port = free_port()
    starlette = None
    if args.compare_starlette:
        import shutil

        shutil.copyfile(work / "bench.db", work / "starlette.db")  # its own database: same keys, same message
        st_db = f"sqlite:///{work / 'starlette.db'}"
        starlette = subprocess.Popen(
            [
                "taskset",
                "-c",
                "1",
                sys.executable,
                __file__,
                "--serve-starlette",
                str(st_port),
                st_db,
                str(work / "st-data"),
            ],
            stdout=open(work / "starlette.log", "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
    names = ["nginx_pixel", "mb_pixel", "nginx_302", "mb_click"] + (["starlette_pixel"] if starlette else [])
    results: dict[str, list[dict[str, float]]] = {k: [] for k in names}
    try:
        wait_http(f"http://127.0.0.1:{nginx_port}/o/x")
        wait_http(f"http://127.0.0.1:{mb_port}/healthz")
        if starlette is not None:
            wait_http(f"http://127.0.0.1:{st_port}/o/x")
        probe = httpx.get(f"http://127.0.0.1:{mb_port}/o/{pixel}.gif")
        assert probe.content == GIF, "probe failed"
        answered = 1
        warm = wrk(f"http://127.0.0.1:{mb_port}/o/{pixel}.gif", 2, args.connections)
        answered += int(warm["requests"])
        for rnd in range(args.rounds):
            runs = [
                ("nginx_pixel", f"http://127.0.0.1:{nginx_port}/o/{pixel}.gif"),
                ("mb_pixel", f"http://127.0.0.1:{mb_port}/o/{pixel}.gif"),
                ("nginx_302", f"http://127.0.0.1:{nginx_port}/c/{click}"),
                ("mb_click", f"http://127.0.0.1:{mb_port}/c/{click}"),
            ]
            if starlette is not None:
                runs.append(("starlette_pixel", f"http://127.0.0.1:{st_port}/o/{pixel}.gif"))
            for name, url in runs:
                r = wrk(url, args.duration, args.connections)
                results[name].append(r)
                if name.startswith("mb_"):
                    answered += int(r["requests"])
                print(
                    f"round {rnd + 1} {name:12s} {r['rps']:9.0f} req/s  p99 {r['p99_ms']:7.2f} ms  bad {r['bad']}",
                    flush=True,
                )
    finally:
        if starlette is not None:
            starlette.send_signal(signal.SIGINT)
            try:
                starlette.wait(30)
            except subprocess.TimeoutExpired:
                starlette.kill()
        nginx.send_signal(signal.SIGQUIT)
        mb.send_signal(signal.SIGTERM)
        nginx.wait(30)
        mb.wait(120)

    store = open_store(db)
    rows = store.count_hits()
    store.close()
    pix = [m["rps"] / n["rps"] for m, n in zip(results["mb_pixel"], results["nginx_pixel"], strict=True)]
    clk = [m["rps"] / n["rps"] for m, n in zip(results["mb_click"], results["nginx_302"], strict=True)]
    summary = {
        "connections": args.connections,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "http_server": args.http_server,
        "pixel_ratio_to_nginx_median": round(statistics.median(pix), 3),
        "pixel_ratio_per_round": [round(x, 3) for x in pix],
        "pixel_rps_median": round(statistics.median(r["rps"] for r in results["mb_pixel"])),
        "nginx_pixel_rps_median": round(statistics.median(r["rps"] for r in results["nginx_pixel"])),
        "pixel_p99_ms_median": round(statistics.median(r["p99_ms"] for r in results["mb_pixel"]), 2),
        "click_ratio_to_nginx_302_median": round(statistics.median(clk), 3),
        "click_ratio_per_round": [round(x, 3) for x in clk],
        "click_rps_median": round(statistics.median(r["rps"] for r in results["mb_click"])),
        "nginx_302_rps_median": round(statistics.median(r["rps"] for r in results["nginx_302"])),
        "click_p99_ms_median": round(statistics.median(r["p99_ms"] for r in results["mb_click"]), 2),
        "requests_answered": answered,
        "rows_in_database": rows,
        # wrk stops counting at the end of a run while up to `connections` requests are in flight:
        # those are answered and stored too, so rows may exceed the count by that much per run
        "every_hit_stored": answered <= rows <= answered + args.connections * (2 * args.rounds + 1),
    }
    if starlette is not None:
        st = [s_["rps"] / m["rps"] for s_, m in zip(results["starlette_pixel"], results["mb_pixel"], strict=True)]
        summary["starlette_over_raw_asgi_median"] = round(statistics.median(st), 3)
        summary["starlette_pixel_rps_median"] = round(statistics.median(r["rps"] for r in results["starlette_pixel"]))
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "runs": results}, indent=2))
    if not summary["every_hit_stored"]:
        print(f"MISMATCH: {answered} requests answered, {rows} rows stored (see {work}/serve.log)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
