"""The RQ job function; workers import it by the dotted path RQ stores in each job."""

from __future__ import annotations

from typing import Any

from ..common import handle_sync


def bench(data: dict[str, Any]) -> None:
    handle_sync(data)
