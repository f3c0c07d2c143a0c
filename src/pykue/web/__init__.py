"""pykue's JSON API, dashboard, Server-Sent Events and metrics: ``create_app(queue)``, and
``create_overview_app(queues)`` over several queues.

It needs the 'web' extra (FastAPI; uvicorn, or any ASGI server, to serve it).
"""

try:
    from .app import create_app
    from .overview import create_overview_app
except ImportError as exc:
    if (exc.name or "pykue").partition(".")[0] == "pykue":
        raise
    raise ImportError(
        f"pykue.web needs the 'web' extra: pip install 'pykue[web]' ({exc})", name=exc.name
    ) from exc

__all__ = ["create_app", "create_overview_app"]
