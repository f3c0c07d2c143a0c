"""pykue's JSON API, dashboard, Server-Sent Events and metrics: ``create_app(queue)``, and
``create_overview_app(queues)`` over several queues.

It needs the 'web' extra (FastAPI; uvicorn, or any ASGI server, to serve it).
"""

from ..errors import require_extra

try:
    from .app import create_app
    from .overview import create_overview_app
except ImportError as exc:
    require_extra(exc, "pykue.web", "web")

__all__ = ["create_app", "create_overview_app"]
