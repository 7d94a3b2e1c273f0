"""`thidua web`: serve the portal with uvicorn. FastAPI and the portal load only when this command runs."""

from __future__ import annotations

from typing import Annotated

import typer

from thidua.deploy.cli_common import ThiduaGroup, current_settings

app = typer.Typer(cls=ThiduaGroup, help="Cổng thông tin web cho các đơn vị (đăng nhập bằng email).")


@app.callback(invoke_without_command=True)
def web(
    host: Annotated[str, typer.Option("--host", help="Địa chỉ lắng nghe.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Cổng lắng nghe.", min=1, max=65535)] = 8000,
) -> None:
    """Chạy cổng thông tin web (mặc định http://127.0.0.1:8000)."""
    import uvicorn

    from thidua.deploy.web.app import create_app

    settings = current_settings()
    application = create_app(settings)
    where = settings.public_url or f"http://{host}:{port}"
    typer.echo(f"Cổng thi đua – khen thưởng: {where} (Ctrl+C để dừng)")
    # Behind a reverse proxy on this host, X-Forwarded-Proto makes cookies Secure over HTTPS.
    uvicorn.run(application, host=host, port=port, proxy_headers=True, log_level="warning")
