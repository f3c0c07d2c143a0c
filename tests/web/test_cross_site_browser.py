"""Cross-site writes and DNS rebinding through a real Chromium, as the audit did: an
attacker's page on another loopback origin (127.0.0.2) posts to the dashboard as a
browser lets any page do (text/plain fetch, an HTML form, bodiless POSTs), and a page
served as evil.example, resolved to 127.0.0.1, reads and deletes through the same
origin. Nothing may change, and nothing may be read."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import redis
from playwright.async_api import async_playwright
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from pykue import JobState, Queue
from pykue.web import create_app
from tests.web.serving import ARGS, CHROMIUM, served

Message = dict[str, Any]


class Recorder:
    """ASGI wrapper noting each request's method, path and status; ``arrived`` is set
    once ``expected`` requests were answered."""

    def __init__(self, app: Any, expected: int) -> None:
        self.app = app
        self.expected = expected
        self.seen: list[tuple[str, str, int]] = []
        self.arrived = asyncio.Event()

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def noting(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.seen.append((scope["method"], scope["path"], message["status"]))
                if len(self.seen) >= self.expected:
                    self.arrived.set()
            await send(message)

        await self.app(scope, receive, noting)


def attacker_page(target: str, failed_id: int) -> str:
    body = json.dumps({"type": "evil", "data": {"run": "rm -rf"}})
    return f"""<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="form" method="POST" action="{target}/job" enctype="text/plain" target="sink">
  <input name='{{"type": "evil", "data": {{"x": "' value='"}}}}'>
</form>
<script>
  const no = {{ method: "POST", mode: "no-cors" }};
  fetch("{target}/job", {{ ...no, headers: {{ "Content-Type": "text/plain" }}, body: {body!r} }});
  fetch("{target}/job/{failed_id}/retry", no);
  fetch("{target}/types/email/pause", no);
  document.getElementById("form").submit();
</script></body></html>"""


async def failed_job(queue: Queue) -> int:
    job = await queue.create("email", {}).save()
    await queue.set_state(job.job_id, "failed")
    return job.job_id


async def test_a_page_on_another_origin_cannot_write(queue: Queue, raw: redis.Redis) -> None:
    failed = await failed_job(queue)
    dashboard = Recorder(create_app(queue), expected=4)
    async with served(dashboard) as port:
        target = f"http://127.0.0.1:{port}"

        async def page(request: Any) -> HTMLResponse:
            return HTMLResponse(attacker_page(target, failed))

        attacker = Starlette(routes=[Route("/", page)])
        async with served(attacker, "127.0.0.2") as attacker_port, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                tab = await browser.new_page()
                await tab.goto(f"http://127.0.0.2:{attacker_port}/")
                await asyncio.wait_for(dashboard.arrived.wait(), 20)
            finally:
                await browser.close()
    assert sorted(dashboard.seen) == sorted(
        [
            ("POST", "/job", 403),
            ("POST", "/job", 403),
            ("POST", f"/job/{failed}/retry", 403),
            ("POST", "/types/email/pause", 403),
        ]
    )
    assert raw.zcard(queue.keys.state("inactive")) == 0  # no job created, none retried
    assert (await queue.get_job(failed)).state is JobState.FAILED
    assert not await queue.is_paused("email")


async def test_a_rebound_name_reads_and_deletes_nothing(queue: Queue) -> None:
    job = await queue.create("email", {"to": "secret@example.com"}).save()
    async with served(create_app(queue)) as port, async_playwright() as pw:
        rules = "--host-resolver-rules=MAP evil.example 127.0.0.1"
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, rules])
        try:
            tab = await browser.new_page()
            page = await tab.goto(f"http://evil.example:{port}/")
            assert page is not None
            assert page.status == 421
            # the page is same-origin with the dashboard as far as the browser knows
            answers = await tab.evaluate(
                """async (id) => {
                    const read = await fetch(`/job/${id}`);
                    const events = await fetch("events");
                    const gone = await fetch(`/job/${id}`, { method: "DELETE" });
                    return [read.status, await read.text(), events.status, gone.status];
                }""",
                job.job_id,
            )
        finally:
            await browser.close()
    read_status, read_text, events_status, delete_status = answers
    assert (read_status, events_status, delete_status) == (421, 421, 421)
    assert "secret" not in read_text
    assert (await queue.get_job(job.job_id)).data == {"to": "secret@example.com"}
