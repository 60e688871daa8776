"""`huiqi serve`: the REST API and the web UI in one process (uvicorn)."""

from __future__ import annotations

from typing import Annotated

import typer

from .console import console


def register(app: typer.Typer) -> None:
    """Add this package's commands to `app`."""
    app.command("serve")(serve)


def serve(
    host: Annotated[str, typer.Option("--host", help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="端口", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option("--workers", help="工作进程数", min=1, max=64)] = 1,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="逐条记录请求（高负载时可关闭）")
    ] = True,
) -> None:
    """启动网页与接口服务（政策检索、政策文件、待遇目录、政策体检，以及 /api）。"""
    import uvicorn

    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    console.print(f"惠企服务已启动：在浏览器中打开 http://{shown}:{port}/ （接口文档：/docs）")
    uvicorn.run(
        "huiqi.web.app:app",
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=access_log,
        # http and loop stay "auto": httptools and uvloop (dependencies) where they install.
        proxy_headers=False,
        server_header=False,
    )
