"""pykue's JSON API, dashboard, Server-Sent Events and metrics: ``create_app(queue)``."""

from .app import create_app

__all__ = ["create_app"]
