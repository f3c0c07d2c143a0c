"""The dashboard in a real browser: Playwright driving Debian's Chromium.

A job's progress bar moves to complete through Server-Sent Events, a failed job is
retried with a click, and a screenshot is kept in tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Page, expect

from pykue import JobState, Queue
from pykue.web import create_app, create_overview_app
from tests.helpers import ROOT, delete_prefix
from tests.test_worker import running
from tests.web.serving import served

ARTIFACTS = ROOT / "tests" / "artifacts"
ARTIFACTS.mkdir(exist_ok=True)


@pytest.fixture
async def dashboard(queue: Queue) -> AsyncIterator[str]:
    await queue.connect()
    async with served(create_app(queue)) as port:
        url = f"http://127.0.0.1:{port}/"
        yield url


async def test_progress_goes_live_to_complete_and_a_failed_job_is_retried(
    queue: Queue, dashboard: str, page: Page
) -> None:
    halfway, finish = asyncio.Event(), asyncio.Event()
    attempts: dict[int, int] = {}

    @queue.process("render")
    async def handler(job: Any) -> str:
        attempts[job.id] = attempts.get(job.id, 0) + 1
        if job.data.get("fail") and attempts[job.id] == 1:
            raise ValueError("the first try fails on purpose")
        if job.data.get("slow"):
            await job.progress(40, 100)
            halfway.set()
            await finish.wait()
            await job.progress(100, 100)
        return "rendered"

    failing = await queue.create("render", {"fail": True}).save()
    slow = await queue.create("render", {"slow": True}).save()
    await page.goto(dashboard)
    async with running(queue):
        with pytest.raises(Exception, match="first try fails"):
            await failing.wait(10)
        await asyncio.wait_for(halfway.wait(), 10)

        # the slow job is active, its bar at 40%, moved there by live events
        await page.locator('[data-state-tab="active"]').click()
        row = page.locator(f'[data-state][data-job-id="{slow.id}"]')
        await expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "40")
        await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        finish.set()
        assert await slow.wait(10) == "rendered"
        await page.locator('[data-state-tab="complete"]').click()
        done = page.locator(f'[data-state][data-job-id="{slow.id}"]')
        await expect(done).to_have_attribute("data-state", "complete")
        await expect(done.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")

        # the failed job: open it, see its error, retry it with a click
        await page.locator('[data-state-tab="failed"]').click()
        await page.locator(f'[data-state][data-job-id="{failing.id}"]').click()
        panel = page.locator("#job-panel")
        await expect(panel).to_have_attribute("data-job-id", str(failing.id))
        await expect(panel).to_contain_text("the first try fails on purpose")
        retried = asyncio.Event()
        queue.on("job complete", lambda job_id, result: job_id == failing.id and retried.set())
        await panel.locator('[data-action="retry"]').click()
        await asyncio.wait_for(retried.wait(), 10)
    assert (await queue.get_job(failing.id)).state is JobState.COMPLETE
    assert attempts[failing.id] == 2
    await page.locator('[data-state-tab="complete"]').click()
    await expect(page.locator(f'[data-state][data-job-id="{failing.id}"]')).to_have_attribute(
        "data-state", "complete"
    )
    # the open job panel follows the job live too
    await expect(panel.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    await page.screenshot(path=str(ARTIFACTS / "dashboard-after-retry.png"), full_page=True)


async def test_the_page_fits_a_phone(queue: Queue, dashboard: str, page: Page) -> None:
    await queue.create("render", {}).save()
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(dashboard)
    await expect(page.locator('[data-count="inactive"]')).to_have_text("1")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways on a phone"
    await page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)


async def test_a_job_opens_from_the_keyboard(queue: Queue, dashboard: str, page: Page) -> None:
    job = await queue.create("render", {"by": "keyboard"}).save()
    await page.goto(dashboard)
    await page.locator('[data-state-tab="inactive"]').click()
    row = page.locator(f'[data-state][data-job-id="{job.id}"]')
    await row.focus()
    await page.keyboard.press("Enter")
    panel = page.locator("#job-panel")
    await expect(panel).to_have_attribute("data-job-id", str(job.id))
    await expect(panel).to_contain_text("keyboard")
    await page.keyboard.press("Escape")
    await expect(row).to_be_focused()  # focus goes back where it was


async def test_the_overview_lists_queues_and_opens_each(
    queue: Queue, redis_url: str, raw: Any, page: Page
) -> None:
    other = Queue(url=redis_url, prefix=f"{queue.keys.prefix}.other")
    try:
        await queue.create("render", {}).save()
        await other.add_bulk([other.create("mail", {}) for _ in range(2)])
        await other.create("mail", {}, delay=600).save()
        async with served(create_overview_app([queue, other])) as port:
            url = f"http://127.0.0.1:{port}/"
            await page.goto(url)
            row = page.locator(f'tr[data-prefix="{other.keys.prefix}"]')
            await expect(row.locator('[data-count="inactive"]')).to_have_text("2")
            await expect(row.locator('[data-count="delayed"]')).to_have_text("1")
            total = page.locator("#queues-total")
            await expect(total.locator('[data-count="inactive"]')).to_have_text("3")
            await expect(total).to_contain_text("all queues")
            # a job saved now shows at the next refresh
            await queue.create("render", {}).save()
            await expect(total.locator('[data-count="inactive"]')).to_have_text("4")
            await page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

            await row.get_by_role("link").click()  # that queue's own dashboard
            await expect(page.locator("#queue-prefix")).to_have_text(other.keys.prefix)
            await expect(page.locator('[data-count="inactive"]')).to_have_text("2")
            await page.get_by_role("link", name="All queues").click()
            await expect(page.locator("#queues-total")).to_contain_text("all queues")
    finally:
        await other.close()
        delete_prefix(raw, other.keys.prefix)


async def test_job_text_cannot_reorder_the_page_and_odd_jobs_still_list(
    queue: Queue, raw: Any, dashboard: str, page: Page
) -> None:
    """A U+202E in data or an error is shown escaped (bidi-isolated besides); a job whose
    created_at is past the browser's Date range, or whose hash is corrupt, does not
    empty the list: each shows as a row."""
    rtl = await queue.create("render", {"name": "\u202eevil.exe"}).save()
    far = await queue.create("render", {}).save()
    corrupt = await queue.create("render", {}).save()
    raw.hset(queue.keys.job(far.id), "created_at", str(9 * 10**15))
    raw.hset(queue.keys.job(corrupt.id), "data", "not json")
    await queue.set_state(rtl.id, "failed")
    raw.hset(queue.keys.job(rtl.id), "error", "bad name \u202eexe.txt")
    await page.goto(dashboard)

    await page.locator('[data-state-tab="inactive"]').click()
    for job in (far, corrupt):
        await expect(page.locator(f'[data-job-id="{job.id}"]')).to_be_visible()
    row = page.locator(f'[data-job-id="{corrupt.id}"]')
    await expect(row).to_have_attribute("data-corrupt", "true")
    await expect(row).to_contain_text("Corrupt job: data is not JSON")
    await expect(page.locator(f'[data-job-id="{far.id}"]')).to_contain_text("invalid time")

    await page.locator('[data-state-tab="failed"]').click()
    failed = page.locator(f'[data-job-id="{rtl.id}"]')
    await expect(failed).to_contain_text("bad name \\u202eexe.txt")
    await failed.click()
    panel = page.locator("#job-panel")
    await expect(panel).to_contain_text("\\u202eevil.exe")
    assert "\u202e" not in await page.locator("body").inner_text()
    isolated = await page.evaluate(
        "[...document.querySelectorAll('.job-error, #job-panel pre')]"
        ".map((e) => getComputedStyle(e).unicodeBidi)"
    )
    assert isolated
    assert set(isolated) == {"isolate"}


async def test_with_token_reads_the_page_asks_for_the_token(queue: Queue, page: Page) -> None:
    job = await queue.create("render", {"who": "only with the token"}).save()
    await queue.connect()
    async with served(create_app(queue, token="s3cret", token_reads=True)) as port:
        url = f"http://127.0.0.1:{port}/"
        await page.goto(url)
        form = page.locator("#token-form")
        await expect(form).to_be_visible()
        await expect(page.locator('[data-count="inactive"]')).to_have_text("\u2013")  # no count
        await page.locator("#token-input").fill("s3cret")
        await form.get_by_role("button", name="Save").click()
        await expect(page.locator('[data-count="inactive"]')).to_have_text("1")
        await expect(page.locator("#live")).to_have_text("Live")  # events, token in the URL
        await page.goto(f"{url}#job/{job.id}")
        await expect(page.locator("#job-panel")).to_contain_text("only with the token")
        # a change made elsewhere arrives through the event stream
        await queue.create("render", {}).save()
        await expect(page.locator('[data-count="inactive"]')).to_have_text("2")
        await page.close()  # its event stream would hold the server's shutdown up
