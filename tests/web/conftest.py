"""The web tests' clients: the JSON API of the test's queue, open and behind a token."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from pykue import Queue
from pykue.web import create_app
from tests.web.serving import TOKEN


async def client_of(queue: Queue, token: str | None) -> AsyncIterator[httpx2.AsyncClient]:
    await queue.connect()
    transport = httpx2.ASGITransport(app=create_app(queue, token=token))
    async with httpx2.AsyncClient(transport=transport, base_url="http://localhost") as client:
        yield client


@pytest.fixture
async def api(queue: Queue) -> AsyncIterator[httpx2.AsyncClient]:
    async for client in client_of(queue, None):
        yield client


@pytest.fixture
async def guarded(queue: Queue) -> AsyncIterator[httpx2.AsyncClient]:
    async for client in client_of(queue, TOKEN):
        yield client
