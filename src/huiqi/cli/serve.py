"""`huiqi serve`: the REST API and the web UI in one process (uvicorn)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .console import console

APP = "huiqi.web.app:app"


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

    from ..web.workers import port_free, reuse_port_supported, run_workers

    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    options: dict[str, Any] = {
        "log_level": "info",
        "access_log": access_log,
        # http and loop stay "auto": httptools and uvloop (dependencies) where they install.
        "proxy_headers": False,
        "server_header": False,
    }
    # several workers on Linux: a listening socket each, so the kernel spreads connections
    own_sockets = workers > 1 and reuse_port_supported()
    if own_sockets and not port_free(host, port):
        console.print(f"[red]端口 {port} 已被占用，请用 --port 换一个端口。[/red]")
        raise typer.Exit(1)
    console.print(f"惠企服务已启动：在浏览器中打开 http://{shown}:{port}/ （接口文档：/docs）")
    if not own_sockets:
        uvicorn.run(APP, host=host, port=port, workers=workers, **options)
        return
    status = run_workers(APP, host, port, workers, options)
    if status:
        console.print("[red]服务未能启动，详见上方的错误信息。[/red]")
        raise typer.Exit(status)
