"""The API docs page: Swagger UI from vendored files (web/static/swagger-ui), no CDN, no inline script."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent.parent / "static"
#: the dashboard's policy: only this server's own scripts, styles and connections
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def install(app: FastAPI) -> None:
    page = (STATIC / "api-docs.html").read_bytes()

    @app.get("/api/v1/docs", include_in_schema=False)
    async def api_docs() -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)

    app.mount("/api/v1/static", StaticFiles(directory=STATIC), name="static")
