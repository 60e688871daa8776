"""The service: one ASGI app serving the REST API (/api, /openapi.json, /docs) and the web UI.

    uvicorn huiqi.web.app:app      # or: huiqi serve

Every error reaches the client as a Chinese message (JSON under /api, a page elsewhere);
no stack trace ever does. Request bodies are limited to 1 MB.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import api, officials, pages, service
from .match_json import encode_slim
from .service import MAX_BODY_BYTES, ApiError

HERE = Path(__file__).resolve().parent
log = logging.getLogger("huiqi.web")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI (/docs) loads its bundle from a CDN and starts with an inline script.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
HTTP_MESSAGES = {
    404: "找不到您要的页面或资源",
    405: "不支持这种请求方式",
    413: "请求内容过大（上限 1 MB）",
    422: "请求参数不对",
    500: "服务器内部错误，请稍后再试",
}


class BodyLimit:
    """Refuse a request body over `limit` bytes with 413, whether or not it says its length."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit
        # paths that take a larger body (prefix -> limit): the registry upload
        self.larger = {officials.PREFIX: officials.MAX_UPLOAD_BYTES + 64 * 1024}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        path = scope.get("path", "")
        limit = next((n for p, n in self.larger.items() if path.startswith(p)), self.limit)
        if length is not None:
            try:
                too_big = int(length) > limit
            except ValueError:
                too_big = True
            if too_big:
                await _too_large(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(scope, receive, send)


class _TooLarge(Exception):
    pass


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    message = HTTP_MESSAGES[413]
    if scope.get("path", "").startswith(officials.PREFIX):
        message = f"文件过大（上限 {officials.MAX_UPLOAD_BYTES // (1024 * 1024)} MB）"
    response = JSONResponse(
        {"message": message, "errors": [{"path": "(根)", "reason": message}]},
        status_code=413,
    )
    await response(scope, receive, send)


class SecurityHeaders:
    """CSP (no inline script), nosniff, no framing, no referrer leaks, on every response; and
    Server-Timing (the app's time to the response headers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope.get("path", "").startswith(("/docs", "/redoc"))
        started = time.perf_counter()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", (DOCS_CSP if docs else CSP).encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                    # time to the response's first byte, for monitoring and bench/
                    (
                        b"server-timing",
                        f"app;dur={(time.perf_counter() - started) * 1000:.1f}".encode(),
                    ),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class MatchFastPath:
    """POST /api/match without query parameters (the slim default, nearly every match request)
    answered by the endpoint's own functions without FastAPI's routing, parameter solving and
    exception middleware (about 4% of a match's instructions). Anything else (a parameter, another
    path) goes through the app as usual; the body limit and the headers still apply (this sits
    inside them), and an unexpected error still reaches the app's 500 handler."""

    PATH = "/api/match"

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] != self.PATH
            or scope["method"] != "POST"
            or scope.get("query_string")
        ):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        try:
            report = api.match_report(b"".join(chunks))
            response: Response = Response(encode_slim(report), media_type="application/json")
        except ApiError as exc:
            response = api.error_response(exc)
        await response(scope, receive, send)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api")


def _warm() -> None:
    """Pay every one-off load before the first request (a worker would otherwise spend its
    first search, catalogue or Excel request on it): the packs, the search index and its
    dictionaries (jieba's part-of-speech table alone takes about a second), the
    rules-by-clause table, the templates and the rendered catalogue, and the Excel writer."""
    from ..engine.lookup import bundled_rule_lookup
    from ..engine.result import build_result
    from ..engine.workbook import workbook_bytes
    from ..search.api import default_index, search
    from ..search.segment import get_segmenter

    try:
        lookup = bundled_rule_lookup(None)
        default_index()
        get_segmenter().tag("政策")  # reads the part-of-speech table
        search("高新技术企业奖励", limit=5, rule_lookup=lookup)
        pages.warm()
        pack = service.load_pack()
        report = service.match({}, None, pack)
        encode_slim(report)
        workbook_bytes(build_result(report))
    except Exception:  # the requests that need them will report it
        log.exception("warm-up failed")


#: Objects a request may leave allocated before the collector's youngest pass runs. A match
#: holds a few thousand containers (a result per rule, their dicts and lists) until it
#: answers; with Python's default of 700 every match ran about ten young passes and a
#: middle one, each walking what the request still held (about a fifth of its CPU). Nearly
#: all of it is freed by reference counting when the response is sent, so a larger
#: threshold leaves the collector the rare cycle, and memory stays bounded.
GC_GEN0_THRESHOLD = 20_000


def settle_gc() -> None:
    """After start-up: keep what start-up loaded out of the collector's passes (it lives as
    long as the process; full passes would otherwise walk the packs and the index every few
    requests), and collect young objects per many requests rather than many times a request."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, middle, old)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    await asyncio.to_thread(_warm)
    settle_gc()
    yield


def create_app() -> FastAPI:
    app = FastAPI(
        lifespan=lifespan,
        title="惠企 Huiqi",
        description="惠企政策库、规则引擎与政策匹配的接口",
        version="0.1.0",
        docs_url="/docs",
        redoc_url=None,
    )
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(officials.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> Response:
        if _is_api(request):
            return api.error_response(exc)
        return pages.error_page(request, exc.status, exc.message, exc.problems)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> Response:
        problems = api.validation_problems(list(exc.errors()))
        err = ApiError(422, HTTP_MESSAGES[422], problems)
        return await on_api_error(request, err)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        message = HTTP_MESSAGES.get(exc.status_code, "请求无法处理")
        return await on_api_error(request, ApiError(exc.status_code, message))

    @app.exception_handler(Exception)
    async def on_crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if _is_api(request):
            return JSONResponse({"message": HTTP_MESSAGES[500], "errors": []}, status_code=500)
        return HTMLResponse(_PLAIN_500, status_code=500)

    # Outermost first: the headers go on every response, a 413 included.
    app.add_middleware(MatchFastPath)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)
    return app


_PLAIN_500 = (
    '<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>出错了</title>'
    "<p>服务器内部错误，请稍后再试。</p></html>"
)


app = create_app()
