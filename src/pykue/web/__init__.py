"""pykue's JSON API, dashboard, Server-Sent Events and metrics: ``create_app(queue)``, and
``create_overview_app(queues)`` over several queues."""

from .app import create_app
from .overview import create_overview_app

__all__ = ["create_app", "create_overview_app"]
