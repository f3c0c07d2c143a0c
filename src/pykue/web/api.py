"""The JSON routes: Kue's API (same paths and shapes) and pykue's additions. See API.md."""

from __future__ import annotations

import hmac
import re
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import PlainTextResponse

from .. import metrics
from ..errors import InvalidArgument, InvalidJob, check_id, shown
from ..job import Job, parse_state
from ..keys import STATES
from ..queue import Queue

ID = re.compile(r"[0-9]{1,15}")
SPAN = re.compile(r"([0-9]{1,9})\.\.([0-9]{1,9})")
OPTIONS = {
    *("priority", "attempts", "delay", "ttl", "backoff", "remove_on_complete"),
    *("unique", "unique_for", "debounce", "debounce_for", "limit_key"),
}
DEPENDENCY_FIELDS = ("depends_on", "on_dependency_failure")
JOB_FIELDS = {"type", "data", "options", *DEPENDENCY_FIELDS}
MAX_BATCH = 1000
SCHEDULE_FIELDS = {"type", "cron", "every", "tz", "data", "catch_up", "options"}
SCHEDULE_OPTIONS = {"priority", "attempts", "backoff", "ttl", "remove_on_complete", "limit_key"}
LIMITS = ("rate", "concurrency", "key_rate")


def queue_of(request: Request) -> Queue:
    queue: Queue = request.app.state.pykue_queue
    return queue


def authorize(request: Request) -> None:
    """With a token, writes (and with ``token_reads`` reads too) need
    ``Authorization: Bearer <token>``; the event stream may carry it as ``?token=``
    instead, since a browser's EventSource cannot send headers."""
    token: str | None = request.app.state.pykue_token
    if not token or (request.method in ("GET", "HEAD") and not request.app.state.pykue_token_reads):
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        given = (
            request.query_params.get("token", "") if request.url.path.endswith("/events") else ""
        )
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise HTTPException(
            401,
            "this dashboard needs its token: Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )


def job_id(text: str) -> int:
    """The job id a path segment spells (ASCII digits; the core checks its range)."""
    if not ID.fullmatch(text):
        raise InvalidArgument(f"job id must be a positive whole number, got {shown(text)}")
    return check_id(int(text))


def span(text: str) -> tuple[int, int]:
    """``FROM..TO`` as two ints (the core checks the range itself)."""
    match = SPAN.fullmatch(text)
    if match is None:
        raise InvalidArgument(f"range must look like FROM..TO (e.g. 0..49), got {shown(text)}")
    return int(match[1]), int(match[2])


def dicts(jobs: list[Job]) -> list[dict[str, Any]]:
    return [job.to_dict() for job in jobs]


router = APIRouter(dependencies=[Depends(authorize)])
open_routes = APIRouter()  # what the page needs before it can ask for the token


@router.get("/stats")
async def kue_stats(request: Request) -> dict[str, int]:
    queue = queue_of(request)
    counts = await queue.counts()
    totals = await queue.totals()
    by_state = {f"{state}Count": counts[state] for state in STATES}
    return {**by_state, "workTime": totals.work_time_ms}


@router.get("/job/types")
async def job_types(request: Request) -> list[str]:
    return await queue_of(request).types()


@router.get("/job/search")
async def search(request: Request, q: str = "") -> list[int]:
    return await queue_of(request).search(q)


@router.get("/job/{id_text}")
async def get_job(request: Request, id_text: str) -> dict[str, Any]:
    queue = queue_of(request)
    found = await queue.get_job(job_id(id_text))
    return {**found.to_dict(), "dependents": await queue.dependents(found.job_id)}


@router.get("/job/{id_text}/tree")
async def get_tree(request: Request, id_text: str) -> dict[str, Any]:
    return await queue_of(request).tree(job_id(id_text))


@router.get("/job/{id_text}/log")
async def get_log(request: Request, id_text: str) -> list[str]:
    queue = queue_of(request)
    found = job_id(id_text)
    await queue.get_job(found)  # 404 for a missing job, not an empty log
    return await queue.get_log(found)


@router.get("/job/{id_text}/errors")
async def get_errors(request: Request, id_text: str) -> list[dict[str, Any]]:
    queue = queue_of(request)
    found = job_id(id_text)
    await queue.get_job(found)
    return await queue.get_errors(found)


@router.get("/jobs/{job_type}/{state}/stats")
async def type_state_count(request: Request, job_type: str, state: str) -> dict[str, int]:
    counts = await queue_of(request).counts(job_type)
    return {"count": counts[parse_state(state).value]}


@router.get("/jobs/{span_text}/{order}")
async def jobs_all(request: Request, span_text: str, order: str) -> list[dict[str, Any]]:
    start, stop = span(span_text)
    jobs = await queue_of(request).jobs(None, start=start, stop=stop, order=order)
    return dicts(jobs)


@router.get("/jobs/{state}/{span_text}/{order}")
async def jobs_in_state(
    request: Request, state: str, span_text: str, order: str
) -> list[dict[str, Any]]:
    start, stop = span(span_text)
    found = await queue_of(request).jobs(parse_state(state), start=start, stop=stop, order=order)
    return dicts(found)


@router.get("/jobs/{job_type}/{state}/{span_text}/{order}")
async def jobs_of_type(
    request: Request, job_type: str, state: str, span_text: str, order: str
) -> list[dict[str, Any]]:
    start, stop = span(span_text)
    found = await queue_of(request).jobs(
        parse_state(state), type=job_type, start=start, stop=stop, order=order
    )
    return dicts(found)


@router.post("/job", status_code=201)
async def create_jobs(request: Request) -> Any:
    queue = queue_of(request)
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # json raises RecursionError for deep nesting
        raise InvalidJob("the body must be JSON: {type, data, options} or a list of them") from None
    many = isinstance(body, list)
    items = body if many else [body]
    if not items or len(items) > MAX_BATCH:
        raise InvalidJob(f"send 1 to {MAX_BATCH} jobs at once")
    jobs = [build_job(queue, item) for item in items]  # all checked before any is saved
    if many:
        await queue.add_bulk(jobs)
        return [saved(job) for job in jobs]
    await jobs[0].save()
    return saved(jobs[0])


def saved(job: Job) -> dict[str, Any]:
    # not created: its unique key already named a job, or its debounce key's waiting job
    # took its data; the id is that job's
    message = "job created" if job.created else "job debounced" if job.debounced else "job exists"
    return {"message": message, "id": job.id}


def build_job(queue: Queue, item: object) -> Job:
    if not isinstance(item, dict):
        raise InvalidJob("each job must be an object: {type, data, options}")
    unknown = set(item) - JOB_FIELDS
    if unknown:
        fields = ", ".join(sorted(JOB_FIELDS))
        raise InvalidJob(f"unknown job fields {shown(sorted(unknown))}; use {fields}")
    options = item.get("options")
    if options is None:
        options = {}
    if not isinstance(options, dict) or set(options) - OPTIONS:
        raise InvalidJob(f"options must be an object with keys from {sorted(OPTIONS)}")
    if "type" not in item:
        raise InvalidJob("a job needs a type")
    # null stands for left out, as for data and options; create() checks the values
    links: dict[str, Any] = {
        name: item[name] for name in DEPENDENCY_FIELDS if item.get(name) is not None
    }
    return queue.create(item["type"], item.get("data"), **options, **links)


@router.put("/job/{id_text}/state/{state}")
async def set_state(request: Request, id_text: str, state: str) -> dict[str, str]:
    target = parse_state(state)
    await queue_of(request).set_state(job_id(id_text), target)
    return {"message": "job state updated"}


@router.put("/job/{id_text}/priority/{priority}")
async def set_priority(request: Request, id_text: str, priority: str) -> dict[str, str]:
    value: int | str = int(priority) if re.fullmatch(r"-?[0-9]{1,12}", priority) else priority
    await queue_of(request).set_priority(job_id(id_text), value)
    return {"message": "job priority updated"}


@router.delete("/job/{id_text}")
async def remove(request: Request, id_text: str, force: str = "false") -> dict[str, str]:
    """409 while jobs wait for the job; ``?force=true`` removes it and fails them."""
    found = job_id(id_text)
    await queue_of(request).remove(found, force=flag("force", request, force))
    return {"message": f"job {found} removed"}


def flag(name: str, request: Request, value: str) -> bool:
    """A ``true``/``false`` query parameter, given at most once: a typo must not turn a
    forced removal into a refused one or the other way round without saying so."""
    if len(request.query_params.getlist(name)) > 1:
        raise InvalidArgument(f"give {name} once, as true or false")
    if value not in ("true", "false"):
        raise InvalidArgument(f"{name} must be true or false, got {shown(value)}")
    return value == "true"


@router.post("/job/{id_text}/retry")
async def retry(request: Request, id_text: str) -> dict[str, str]:
    found = job_id(id_text)
    await queue_of(request).retry(found)
    return {"message": f"job {found} retried"}


@router.get("/inactive/{job_type}")
async def inactive(request: Request, job_type: str) -> list[int]:
    return await queue_of(request).inactive_ids(job_type)


@router.get("/types")
async def types(request: Request) -> list[dict[str, Any]]:
    found = await queue_of(request).type_stats()
    return [
        {
            "type": each.name,
            "paused": each.paused,
            "counts": each.counts,
            "limits": each.limits.to_dict(),
        }
        for each in found
    ]


@router.post("/types/{job_type}/pause")
async def pause(request: Request, job_type: str) -> dict[str, Any]:
    await queue_of(request).pause(job_type)
    return {"type": job_type, "paused": True}


@router.post("/types/{job_type}/resume")
async def resume(request: Request, job_type: str) -> dict[str, Any]:
    await queue_of(request).resume(job_type)
    return {"type": job_type, "paused": False}


@router.get("/types/{job_type}/limits")
async def get_limits(request: Request, job_type: str) -> dict[str, Any]:
    limits = await queue_of(request).limits(job_type)
    return {"type": job_type, "limits": limits.to_dict()}


@router.put("/types/{job_type}/limits")
async def set_limits(request: Request, job_type: str) -> dict[str, Any]:
    body = await json_object(request, "{rate, concurrency, key_rate}, each optional")
    unknown = set(body) - set(LIMITS)
    if unknown:
        raise InvalidArgument(f"unknown limits {shown(sorted(unknown))}; use {', '.join(LIMITS)}")
    # left out: unchanged; null: removed; the core checks every value
    changes = {name: rate_of(name, body[name]) for name in LIMITS if name in body}
    limits = await queue_of(request).set_limits(job_type, **changes)
    return {"type": job_type, "limits": limits.to_dict()}


def rate_of(name: str, value: Any) -> Any:
    """A rate's JSON ``{"count", "per"}`` as the ``(count, per)`` pair ``set_limits``
    takes (it checks both numbers); None, and the concurrency, as they are."""
    if value is None or name == "concurrency":
        return value
    if not isinstance(value, dict) or set(value) != {"count", "per"}:
        raise InvalidArgument(
            f"{name} must be an object {{count, per}} or null, got {shown(value)}"
        )
    return (value["count"], value["per"])


@router.get("/schedules")
async def schedules(request: Request) -> dict[str, Any]:
    found = await queue_of(request).schedules()
    return {"schedules": [each.to_dict() for each in found]}


@router.get("/schedules/{key}")
async def get_schedule(request: Request, key: str) -> dict[str, Any]:
    return {"schedule": (await queue_of(request).get_schedule(key)).to_dict()}


@router.put("/schedules/{key}")
async def put_schedule(request: Request, key: str) -> dict[str, Any]:
    body = await json_object(request, "{type, cron or every, tz, data, catch_up, options}")
    unknown = set(body) - SCHEDULE_FIELDS
    if unknown:
        fields = ", ".join(sorted(SCHEDULE_FIELDS))
        raise InvalidArgument(f"unknown schedule fields {shown(sorted(unknown))}; use {fields}")
    if "type" not in body:
        raise InvalidArgument("a schedule needs a type")
    options = body.get("options")
    if options is None:
        options = {}
    if not isinstance(options, dict) or set(options) - SCHEDULE_OPTIONS:
        raise InvalidArgument(
            f"options must be an object with keys from {sorted(SCHEDULE_OPTIONS)}"
        )
    given = {
        name: body[name] for name in ("cron", "every", "tz", "data", "catch_up") if name in body
    }
    made = await queue_of(request).schedule(body["type"], key=key, **given, **options)
    return {"schedule": made.to_dict()}


@router.delete("/schedules/{key}")
async def unschedule(request: Request, key: str) -> dict[str, str]:
    if not await queue_of(request).unschedule(key):
        raise HTTPException(404, f"schedule {shown(key)} not found")
    return {"message": "schedule removed"}


async def json_object(request: Request, shape: str) -> dict[str, Any]:
    """The request's body, which must be a JSON object (``shape`` says which)."""
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # json raises RecursionError for deep nesting
        raise InvalidArgument(f"the body must be JSON: {shape}") from None
    if not isinstance(body, dict):
        raise InvalidArgument(f"the body must be a JSON object: {shape}")
    return body


@router.get("/throughput")
async def throughput(request: Request) -> dict[str, Any]:
    return {"minutes": await queue_of(request).throughput()}


@router.get("/metrics", response_class=PlainTextResponse)
async def prometheus(request: Request) -> PlainTextResponse:
    text = await metrics.render(queue_of(request))
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


@open_routes.get("/config")
async def config(request: Request) -> dict[str, Any]:
    found = {
        "tokenRequired": bool(request.app.state.pykue_token),
        "prefix": queue_of(request).keys.prefix,
        "overview": request.app.state.pykue_overview,
    }
    return found | ({"tokenReads": True} if request.app.state.pykue_token_reads else {})
