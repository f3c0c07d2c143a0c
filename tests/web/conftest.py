"""The web tests' clients: the JSON API of the test's queue, open and behind a token, and
a browser page that fails the test on any JavaScript error."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest
from playwright.async_api import Page, async_playwright

from pykue import Queue
from pykue.web import create_app
from tests.web.serving import ARGS, CHROMIUM, TOKEN


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


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield page
        finally:
            await browser.close()
        assert errors == [], f"JavaScript errors on the page: {errors}"
