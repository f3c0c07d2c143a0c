"""``document(app)``: an OpenAPI document that says what the routes really answer.

FastAPI's own lists 200 and a 422 that is never sent (validation errors answer 400).
This one lists the errors the guard and the routes answer, all ``{"error": message}``,
the patterns each path segment must match, the bodies of ``POST /job``, ``PUT
/schedules/{key}`` and ``PUT /types/{job_type}/limits``, and the answers of the schedule,
limits and tree routes.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ..errors import MAX_INDEX
from ..flows import MAX_DEPENDENCIES, POLICIES
from ..job import MAX_SECONDS, PRIORITIES
from ..keys import STATES
from ..limits import MAX_CAP, MAX_RATE_COUNT, MAX_RATE_PER
from ..schedules import MAX_CRON

NAME = "^[A-Za-z0-9_.:-]{1,128}$"
SEGMENTS: dict[str, dict[str, Any]] = {
    "id_text": {"type": "string", "pattern": "^[0-9]{1,15}$"},
    "span_text": {"type": "string", "pattern": "^[0-9]{1,9}[.][.][0-9]{1,9}$"},
    "order": {"type": "string", "enum": ["asc", "desc"]},
    "state": {"type": "string", "enum": list(STATES)},
    "job_type": {"type": "string", "pattern": NAME},
    "key": {"type": "string", "pattern": NAME},
    "priority": {"type": "string", "pattern": f"^({'|'.join(PRIORITIES)}|-?[0-9]{{1,12}})$"},
}
ERRORS = {
    400: "Bad input (nothing was changed)",
    401: "The token is missing or wrong (a token is set)",
    403: "A cross-site request from a browser",
    404: "No such job (or schedule)",
    409: "The job's state does not allow it",
    413: "The body is over the size limit",
    415: "The body is not Content-Type: application/json",
    421: "The Host header names a host this server does not answer for",
    503: "Redis cannot be reached (Retry-After says when to ask again)",
}
READ_ERRORS = (400, 401, 421, 503)
WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 415, 421, 503)
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
    "additionalProperties": False,
}
# The options a job takes; a schedule's jobs take all but delay and the unique and debounce keys.
JOB_OPTIONS: dict[str, Any] = {
    "priority": {
        "oneOf": [
            {"type": "string", "enum": list(PRIORITIES)},
            {
                "type": "integer",
                "exclusiveMinimum": -(1 << 20),
                "exclusiveMaximum": 1 << 20,
            },
        ]
    },
    "attempts": {"type": "integer", "minimum": 1, "maximum": 10_000},
    "delay": {"type": "number", "minimum": 0},
    "ttl": {"type": "number", "exclusiveMinimum": 0},
    "backoff": {"type": ["object", "boolean", "null"]},
    "unique": {"type": "string", "pattern": NAME},
    "unique_for": {"type": "number", "exclusiveMinimum": 0},
    "debounce": {"type": "string", "pattern": NAME},
    "debounce_for": {"type": "number", "exclusiveMinimum": 0},
    "limit_key": {"type": "string", "pattern": NAME},
    "remove_on_complete": {"type": ["boolean", "integer"], "minimum": 0},
}
JOB = {
    "type": "object",
    "required": ["type"],
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string", "pattern": NAME},
        "data": {"type": ["object", "null"]},
        "options": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "properties": JOB_OPTIONS,
        },
        "depends_on": {
            "type": ["array", "null"],
            "items": {"type": "integer", "minimum": 1, "maximum": MAX_INDEX - 1},
            "maxItems": MAX_DEPENDENCIES,
            "uniqueItems": True,
            "description": "ids of jobs of this queue that must complete first",
        },
        "on_dependency_failure": {
            "type": ["string", "null"],
            "enum": [*POLICIES, None],
            "description": "what the job does when a dependency fails for good (default fail)",
        },
    },
}
# GET /job/{id}/tree: a dependency node holds its own dependencies (recursively)
OUTCOME = {"type": ["string", "null"], "enum": ["complete", "failed", "ignored", "removed", None]}
NODE_FIELDS: dict[str, Any] = {
    "id": {"type": "integer"},
    "type": {"type": ["string", "null"], "description": "null: the job was removed"},
    "state": {"type": ["string", "null"], "enum": [*STATES, None]},
    "outcome": OUTCOME,
    "depends_on": {"type": "array", "items": {"$ref": "#/components/schemas/TreeNode"}},
    "repeated": {"type": "boolean", "description": "shown before in the tree: no subtree"},
}
TREE_NODE = {
    "type": "object",
    "required": ["id", "type", "state", "outcome", "depends_on"],
    "properties": NODE_FIELDS,
}
TREE = {
    "type": "object",
    "required": ["id", "type", "state", "outcome", "depends_on", "dependents"],
    "properties": {
        **NODE_FIELDS,
        "dependents": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "type", "state"],
                "properties": {
                    "id": {"type": "integer"},
                    "type": {"type": "string"},
                    "state": {"type": ["string", "null"], "enum": [*STATES, None]},
                },
            },
        },
        "truncated": {"type": "boolean", "description": "over 1,000 nodes: the rest left out"},
    },
}
FORCE = {"type": "string", "enum": ["true", "false"], "default": "false"}
SCHEDULE_OPTIONS = {
    **{
        name: rule
        for name, rule in JOB_OPTIONS.items()
        if name not in ("delay", "unique", "unique_for", "debounce", "debounce_for")
    },
    "limit_key": {"type": ["string", "null"], "pattern": NAME},
}
# exactly one of cron and every
ONE_RULE = [
    {"required": ["cron"], "properties": {"cron": {"type": "string"}}},
    {"required": ["every"], "properties": {"every": {"type": "number"}}},
]
NEW_SCHEDULE = {
    "type": "object",
    "required": ["type"],
    "additionalProperties": False,
    "oneOf": ONE_RULE,
    "properties": {
        "type": {"type": "string", "pattern": NAME},
        "cron": {
            "type": ["string", "null"],
            "minLength": 1,
            "maxLength": MAX_CRON,
            "description": "5 fields: minute hour day month weekday",
        },
        "every": {
            "type": ["number", "null"],
            "minimum": 0.001,
            "maximum": MAX_SECONDS,
            "description": "seconds",
        },
        "tz": {
            "type": "string",
            "pattern": "^[A-Za-z0-9_+/-]{1,64}$",
            "description": "an IANA time zone name (default UTC)",
        },
        "data": {"type": ["object", "null"]},
        "catch_up": {"type": "boolean"},
        "options": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "properties": SCHEDULE_OPTIONS,
        },
    },
}
RATE = {
    "type": ["object", "null"],
    "required": ["count", "per"],
    "additionalProperties": False,
    "properties": {
        "count": {"type": "integer", "minimum": 1, "maximum": MAX_RATE_COUNT},
        "per": {"type": "number", "minimum": 0.001, "maximum": MAX_RATE_PER, "description": "s"},
    },
}
CONCURRENCY = {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_CAP}
LIMITS_CHANGE = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": False,
    "properties": {"rate": RATE, "concurrency": CONCURRENCY, "key_rate": RATE},
}
LIMITS = {
    "type": "object",
    "required": ["rate", "concurrency", "key_rate"],
    "additionalProperties": False,
    "properties": {"rate": RATE, "concurrency": CONCURRENCY, "key_rate": RATE},
}
SCHEDULE = {
    "type": "object",
    "required": [
        "key", "type", "cron", "every", "tz", "data", "options", "catch_up",
        "next_run_at", "last_run_at", "last_job_id", "created_at", "updated_at",
    ],
    "additionalProperties": False,
    "properties": {
        "key": {"type": "string"},
        "type": {"type": "string"},
        "cron": {"type": ["string", "null"]},
        "every": {"type": ["number", "null"]},
        "tz": {"type": "string"},
        "data": {"type": "object"},
        "options": {"type": "object"},
        "catch_up": {"type": "boolean"},
        "next_run_at": {"type": ["integer", "null"], "description": "ms, Redis clock"},
        "last_run_at": {"type": ["integer", "null"]},
        "last_job_id": {"type": ["integer", "null"]},
        "created_at": {"type": ["integer", "null"]},
        "updated_at": {"type": ["integer", "null"]},
    },
}  # fmt: skip
TYPE_ROW = {
    "type": "object",
    "required": ["type", "paused", "counts", "limits"],
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string"},
        "paused": {"type": "boolean"},
        "counts": {
            "type": "object",
            "required": list(STATES),
            "properties": {state: {"type": "integer", "minimum": 0} for state in STATES},
        },
        "limits": {"$ref": "#/components/schemas/Limits"},
    },
}
TYPE_LIMITS = {
    "type": "object",
    "required": ["type", "limits"],
    "additionalProperties": False,
    "properties": {
        "type": {"type": "string"},
        "limits": {"$ref": "#/components/schemas/Limits"},
    },
}
MESSAGE = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string"}},
}
ONE_SCHEDULE = {
    "type": "object",
    "required": ["schedule"],
    "additionalProperties": False,
    "properties": {"schedule": {"$ref": "#/components/schemas/Schedule"}},
}
SCHEDULE_LIST = {
    "type": "object",
    "required": ["schedules"],
    "additionalProperties": False,
    "properties": {
        "schedules": {"type": "array", "items": {"$ref": "#/components/schemas/Schedule"}}
    },
}
# The 200 answer of these routes, by method and path.
ANSWERS: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/types"): {"type": "array", "items": TYPE_ROW},
    ("get", "/types/{job_type}/limits"): TYPE_LIMITS,
    ("put", "/types/{job_type}/limits"): TYPE_LIMITS,
    ("get", "/schedules"): SCHEDULE_LIST,
    ("get", "/schedules/{key}"): ONE_SCHEDULE,
    ("put", "/schedules/{key}"): ONE_SCHEDULE,
    ("delete", "/schedules/{key}"): MESSAGE,
    ("get", "/job/{id_text}/tree"): {"$ref": "#/components/schemas/Tree"},
    ("delete", "/job/{id_text}"): MESSAGE,
}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


# The request body of these routes, by method and path.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("put", "/schedules/{key}"): json_body({"$ref": "#/components/schemas/NewSchedule"}),
    ("put", "/types/{job_type}/limits"): json_body({"$ref": "#/components/schemas/LimitsChange"}),
}
NEW_JOB_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"$ref": "#/components/schemas/NewJob"},
                    {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/NewJob"},
                        "minItems": 1,
                        "maxItems": 1000,
                    },
                ]
            }
        }
    },
}


def document(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = true_schema(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def true_schema(app: FastAPI) -> dict[str, Any]:
    spec = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            codes = WRITE_ERRORS if method in ("post", "put", "delete", "patch") else READ_ERRORS
            if method == "get" and ("{id_text}" in path or "{key}" in path):
                codes = (*codes, 404)
            for code in codes:
                responses[str(code)] = {
                    "description": ERRORS[code],
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter["name"] in SEGMENTS:
                    parameter["schema"] = SEGMENTS[parameter["name"]]
                if parameter.get("in") == "query" and parameter["name"] == "force":
                    parameter["schema"] = FORCE
                    parameter["description"] = "true: remove it even while jobs wait for it"
            if path.endswith("/events"):
                responses["200"] = {
                    "description": "Server-Sent Events, one per queue event",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                }
            if method == "post" and path.endswith("/job"):
                operation["requestBody"] = NEW_JOB_BODY
            if (method, path) in BODIES:
                operation["requestBody"] = BODIES[method, path]
            if (method, path) in ANSWERS:
                responses["200"] = {
                    "description": "Successful Response",
                    "content": {"application/json": {"schema": ANSWERS[method, path]}},
                }
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Error"] = ERROR_SCHEMA
    schemas["NewJob"] = JOB
    schemas["NewSchedule"] = NEW_SCHEDULE
    schemas["Schedule"] = SCHEDULE
    schemas["Limits"] = LIMITS
    schemas["LimitsChange"] = LIMITS_CHANGE
    schemas["Tree"] = TREE
    schemas["TreeNode"] = TREE_NODE
    return spec
