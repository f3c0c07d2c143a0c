"""Schedules and limits on the dashboard, in a real browser (Playwright driving Debian's
Chromium, as test_dashboard_browser.py launches it): made through the JSON API, seen in
the Schedules panel and the Types table, changed live through the event stream, and a
schedule removed with its button (with the token when one is set)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx2
from playwright.async_api import Page, expect

from pykue import Queue
from pykue.web import create_app
from tests.test_worker import running
from tests.web.serving import TOKEN, served
from tests.web.test_dashboard_browser import ARTIFACTS


def iso(ms: int) -> str:
    """A time as the page's <time datetime> writes it (JavaScript's toISOString)."""
    whole = datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{ms % 1000:03d}Z"


async def put(api: httpx2.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = await api.put(path, json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def test_schedules_and_limits_show_and_a_schedule_is_removed_with_its_button(
    queue: Queue, page: Page
) -> None:
    await queue.connect()
    await queue.create("email", {}).save()
    await queue.create("sms", {}).save()
    made: asyncio.Queue[int] = asyncio.Queue()
    queue.on("job enqueue", lambda job_id, job_type: made.put_nowait(job_id))
    queue.process("ping", lambda job: None)
    async with (
        served(create_app(queue)) as port,
        httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}") as api,
    ):
        nightly = await put(
            api,
            "/schedules/nightly",
            {"type": "email", "cron": "*/5 * * * *", "tz": "Europe/Paris"},
        )
        await put(api, "/schedules/tick", {"type": "sms", "every": 3600})
        await put(
            api,
            "/types/email/limits",
            {
                "rate": {"count": 100, "per": 60},
                "concurrency": 5,
                "key_rate": {"count": 10, "per": 1},
            },
        )
        # a schedule that has run once: it fires every 0.3 s until replaced by an hourly one
        await put(api, "/schedules/pinger", {"type": "ping", "every": 0.3})
        async with running(queue):
            first = await asyncio.wait_for(made.get(), 10)
            pinger = await put(api, "/schedules/pinger", {"type": "ping", "every": 3600})
        last = pinger["schedule"]["last_job_id"]
        assert last is not None
        assert last >= first

        await page.goto(f"http://127.0.0.1:{port}/")
        row = page.locator('#schedules-body tr[data-schedule-key="nightly"]')
        await expect(row.locator('[data-field="type"]')).to_have_text("email")
        await expect(row.locator('[data-field="rule"]')).to_have_text("cron */5 * * * *")
        await expect(row.locator('[data-field="tz"]')).to_have_text("Europe/Paris")
        await expect(row.locator('[data-field="next"] time')).to_have_attribute(
            "datetime", iso(nightly["schedule"]["next_run_at"])
        )
        await expect(row.locator('[data-field="last"]')).to_have_text("—")
        tick = page.locator('#schedules-body tr[data-schedule-key="tick"]')
        await expect(tick.locator('[data-field="rule"]')).to_have_text("every 3600 s")
        await expect(tick.locator('[data-field="tz"]')).to_have_text("UTC")
        keys = page.locator("#schedules-body tr")
        await expect(keys).to_have_count(3)
        assert await keys.evaluate_all("rows => rows.map(r => r.dataset.scheduleKey)") == [
            "nightly",
            "pinger",
            "tick",
        ]
        email = page.locator('#types-body tr[data-row-type="email"] [data-limits]')
        await expect(email).to_have_text("rate 100/60s · max 5 · per key 10/1s")
        sms = page.locator('#types-body tr[data-row-type="sms"] [data-limits]')
        await expect(sms).to_have_text("—")
        await page.screenshot(path=str(ARTIFACTS / "dashboard-schedules.png"), full_page=True)

        # changes made elsewhere arrive through the event stream
        await put(api, "/types/sms/limits", {"concurrency": 2})
        await expect(sms).to_have_text("max 2")
        await put(api, "/schedules/added-later", {"type": "sms", "every": 60})
        await expect(page.locator('[data-schedule-key="added-later"]')).to_have_count(1)

        # the last job's link opens the job, whose details name its schedule
        link = page.locator('tr[data-schedule-key="pinger"] [data-field="last"] a')
        await expect(link).to_have_text(f"#{last}")
        await link.click()
        panel = page.locator("#job-panel")
        await expect(panel).to_have_attribute("data-job-id", str(last))
        schedule_fact = panel.locator("dt", has_text="Schedule").locator(
            "xpath=following-sibling::dd[1]"
        )
        await expect(schedule_fact).to_have_text("pinger")
        await page.keyboard.press("Escape")

        # the Remove button: DELETE schedules/nightly from the page itself
        async with page.expect_response(lambda r: r.request.method == "DELETE") as answered:
            await row.get_by_role("button", name="Remove schedule nightly").click()
        response = await answered.value
        assert response.status == 200
        assert response.url == f"http://127.0.0.1:{port}/schedules/nightly"
        await expect(row).to_have_count(0)
        await expect(page.locator("#messages")).to_contain_text("Schedule nightly removed")
        assert [s.key for s in await queue.schedules()] == ["added-later", "pinger", "tick"]

        # on a phone the new tables scroll inside their cards, not the page sideways
        await page.set_viewport_size({"width": 390, "height": 844})
        await expect(page.locator('tr[data-schedule-key="tick"]')).to_be_visible()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "the page scrolls sideways on a phone"
        await page.screenshot(path=str(ARTIFACTS / "dashboard-schedules-phone.png"), full_page=True)
        await page.close()  # its event stream would hold the server's shutdown up


async def test_removing_a_schedule_asks_for_the_token_when_one_is_set(
    queue: Queue, page: Page
) -> None:
    await queue.connect()
    await queue.schedule("email", key="guarded", every=600)
    async with served(create_app(queue, token=TOKEN)) as port:
        await page.goto(f"http://127.0.0.1:{port}/")
        row = page.locator('#schedules-body tr[data-schedule-key="guarded"]')
        remove = row.get_by_role("button", name="Remove schedule guarded")
        async with page.expect_response(lambda r: r.request.method == "DELETE") as refused:
            await remove.click()
        assert (await refused.value).status == 401
        await expect(page.locator("#token-form")).to_be_visible()
        await expect(page.locator(".message.error")).to_contain_text("token")
        assert [s.key for s in await queue.schedules()] == ["guarded"]

        await page.locator("#token-input").fill(TOKEN)
        await page.locator("#token-form").get_by_role("button", name="Save").click()
        async with page.expect_response(lambda r: r.request.method == "DELETE") as allowed:
            await remove.click()
        assert (await allowed.value).status == 200
        await expect(row).to_have_count(0)
        await expect(page.locator("#schedules-empty")).to_be_visible()
        assert await queue.schedules() == []
        await page.close()
