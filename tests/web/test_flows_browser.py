"""Job dependencies in the dashboard, in a real browser (Playwright driving Debian's
Chromium): a job's panel lists what it waits for and what waits for it, with links
that open those jobs; the waiting tab follows the event stream; a removal that others
wait for is refused, then forced."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Page, Route, expect

from pykue import JobNotFound, JobState, Queue
from pykue.web import create_app, create_overview_app
from tests.test_worker import running
from tests.web.serving import served
from tests.web.test_dashboard_browser import ARTIFACTS


@pytest.fixture
async def dashboard(queue: Queue) -> AsyncIterator[str]:
    await queue.connect()
    async with served(create_app(queue)) as port:
        yield f"http://127.0.0.1:{port}/"


async def open_live(page: Page, url: str) -> None:
    """Open the page and wait for its event stream: what changes after reaches it."""
    await page.goto(url)
    await expect(page.locator("#live")).to_have_text("Live")


async def test_a_panel_links_what_a_job_waits_for_and_what_waits_for_it(
    queue: Queue, dashboard: str, page: Page
) -> None:
    fetch = await queue.create("fetch", {"url": "https://example.com/a"}).save()
    report = await queue.create("report", {"title": "weekly"}, depends_on=[fetch]).save()
    await open_live(page, dashboard)
    await expect(page.locator('[data-count="waiting"]')).to_have_text("1")
    await page.locator('[data-state-tab="waiting"]').click()
    row = page.locator(f'[data-state="waiting"][data-job-id="{report.id}"]')
    await expect(row).to_contain_text("waits for 1")
    await row.click()

    panel = page.locator("#job-panel")
    await expect(panel).to_have_attribute("data-job-id", str(report.id))
    await expect(panel.locator('[data-field="pending"]')).to_have_text("Waiting for 1 of 1")
    await expect(panel).to_contain_text("If a dependency fails")
    dependency = panel.locator(f'[data-list="depends-on"] [data-flow-id="{fetch.id}"]')
    await expect(dependency.locator(".badge")).to_have_text("inactive")
    await expect(dependency.locator("[data-outcome]")).to_have_text("pending")
    await page.screenshot(path=str(ARTIFACTS / "flow-waiting.png"), full_page=True)

    # the link opens the dependency's panel, at its own address
    await dependency.get_by_role("link", name=f"#{fetch.id} fetch").click()
    await expect(panel).to_have_attribute("data-job-id", str(fetch.id))
    await expect(page).to_have_url(re.compile(f"#job/{fetch.id}$"))
    dependent = panel.locator(f'[data-list="dependents"] [data-flow-id="{report.id}"]')
    await expect(panel.get_by_role("heading", name="Needed by (1)")).to_be_visible()
    await expect(dependent.locator(".badge")).to_have_text("waiting")
    await expect(dependent.get_by_role("link", name=f"#{report.id} report")).to_be_visible()

    # a worker completes the dependency: the dependent leaves waiting, live
    @queue.process("fetch")
    async def handler(job: Any) -> dict[str, int]:
        return {"bytes": 5}

    async with running(queue):
        assert await fetch.wait(10) == {"bytes": 5}
    await expect(page.locator('[data-count="waiting"]')).to_have_text("0")
    await expect(page.locator('[data-count="inactive"]')).to_have_text("1")
    await expect(dependent.locator(".badge")).to_have_text("inactive")
    await expect(page.locator("#job-list [data-job-id]")).to_have_count(0)  # waiting tab: empty
    assert (await queue.get_job(report.id)).state is JobState.INACTIVE

    await dependent.get_by_role("link", name=f"#{report.id} report").click()
    await expect(panel).to_have_attribute("data-job-id", str(report.id))
    await expect(dependency.locator("[data-outcome]")).to_have_text("complete")
    await expect(dependency.locator(".badge")).to_have_text("complete")
    await expect(panel.locator('[data-field="pending"]')).to_have_count(0)
    await page.go_back()  # the address kept each panel
    await expect(panel).to_have_attribute("data-job-id", str(fetch.id))
    # a listed job's own event redraws the panel that lists it; the keyboard stays put
    link = dependent.get_by_role("link", name=f"#{report.id} report")
    await link.focus()
    await queue.set_state(report.id, JobState.FAILED)
    await expect(dependent.locator(".badge")).to_have_text("failed")
    await expect(link).to_be_focused()


async def test_a_removal_others_wait_for_is_refused_then_forced(
    queue: Queue, dashboard: str, page: Page
) -> None:
    fetch = await queue.create("fetch", {}).save()
    report = await queue.create("report", {}, depends_on=[fetch]).save()
    await open_live(page, f"{dashboard}#job/{fetch.id}")
    panel = page.locator("#job-panel")
    await expect(panel.locator('[data-list="dependents"]')).to_contain_text(f"#{report.id}")

    await panel.locator('[data-action="remove"]').click()
    refusal = panel.locator(".refusal")
    await expect(refusal).to_contain_text(f"job {fetch.id} is waited for by jobs {report.id}")
    await expect(refusal.locator('[data-action="cancel-remove"]')).to_be_focused()
    await page.screenshot(path=str(ARTIFACTS / "flow-remove-refused.png"), full_page=True)
    await refusal.get_by_role("button", name="Cancel").click()
    await expect(refusal).to_have_count(0)
    await expect(panel.locator('[data-action="remove"]')).to_be_focused()
    assert (await queue.get_job(fetch.id)).state is JobState.INACTIVE

    await panel.locator('[data-action="remove"]').click()
    await refusal.get_by_role("button", name="Remove anyway").click()
    await expect(page.locator("#messages")).to_contain_text(f"job {fetch.id} removed")
    await expect(panel).to_be_hidden()
    with pytest.raises(JobNotFound):
        await queue.get_job(fetch.id)
    failed = await queue.get_job(report.id)
    assert (failed.state, failed.error) == (JobState.FAILED, f"dependency {fetch.id} removed")
    await expect(page.locator('[data-count="failed"]')).to_have_text("1")
    await expect(page.locator('[data-count="waiting"]')).to_have_text("0")

    await page.locator('[data-state-tab="failed"]').click()
    await page.locator(f'[data-state="failed"][data-job-id="{report.id}"]').click()
    await expect(panel.locator('[data-field="failed-by"]')).to_have_text(
        f"Failed because dependency #{fetch.id} was removed"
    )
    gone = panel.locator(f'[data-list="depends-on"] [data-flow-id="{fetch.id}"]')
    await expect(gone.locator("[data-outcome]")).to_have_text("removed")
    await expect(gone.get_by_role("link")).to_have_count(0)  # nothing left to open


class CountsGate:
    """Lets the dashboard's counts requests through until ``cut``, then refuses them;
    ``cut`` returns once the answers already let through have reached the page."""

    def __init__(self) -> None:
        self.open, self.passing = True, 0
        self.drained = asyncio.Event()

    async def handle(self, route: Route) -> None:
        if not self.open:
            await route.fulfill(status=503, json={"error": "cut off by the test"})
            return
        self.passing += 1
        try:
            await route.fulfill(response=await route.fetch())
        finally:
            self.passing -= 1
            if not self.passing:
                self.drained.set()

    async def cut(self) -> None:
        self.open = False
        while self.passing:
            self.drained.clear()
            await asyncio.wait_for(self.drained.wait(), 10)


async def test_the_counts_follow_dependency_events_alone(
    queue: Queue, dashboard: str, page: Page
) -> None:
    """With the counts' refetch cut off, the tabs move by the events alone: a job saved
    waiting, released by its dependency, then failed by another while it waits."""
    fetch = await queue.create("fetch", {}).save()
    gate = CountsGate()
    await page.route(re.compile(r".*/(stats|types)$"), gate.handle)
    await open_live(page, dashboard)
    await expect(page.locator('[data-count="inactive"]')).to_have_text("1")
    await gate.cut()  # and no answer from before lands on the events applied after
    counts = {state: page.locator(f'[data-count="{state}"]') for state in ("inactive", "waiting")}
    failed = page.locator('[data-count="failed"]')
    report = await queue.create("report", {}, depends_on=[fetch]).save()
    await expect(counts["waiting"]).to_have_text("1")
    await queue.set_state(fetch.id, JobState.COMPLETE)  # releases the report
    await expect(counts["waiting"]).to_have_text("0")
    await expect(counts["inactive"]).to_have_text("1")
    mail = await queue.create("mail", {}, depends_on=[report]).save()
    await expect(counts["waiting"]).to_have_text("1")
    await queue.set_state(report.id, JobState.FAILED)  # fails the mail, which was waiting
    await expect(failed).to_have_text("2")
    await expect(counts["waiting"]).to_have_text("0")
    await expect(counts["inactive"]).to_have_text("0")
    assert (await queue.get_job(mail.id)).state is JobState.FAILED
    await expect(page.locator("#messages")).to_contain_text("cut off by the test")


async def test_the_overview_counts_waiting_jobs(queue: Queue, page: Page) -> None:
    fetch = await queue.create("fetch", {}).save()
    await queue.add_bulk([queue.create("report", {}, depends_on=[fetch]) for _ in range(2)])
    await queue.connect()
    async with served(create_overview_app([queue])) as port:
        await page.goto(f"http://127.0.0.1:{port}/")
        row = page.locator(f'tr[data-prefix="{queue.keys.prefix}"]')
        await expect(row.locator('[data-count="waiting"]')).to_have_text("2")
        await expect(row.locator('[data-count="inactive"]')).to_have_text("1")
        total = page.locator("#queues-total")
        await expect(total.locator('[data-count="waiting"]')).to_have_text("2")
        header = page.locator("thead th").nth(6)
        await expect(header).to_have_text("Waiting")  # over its column
