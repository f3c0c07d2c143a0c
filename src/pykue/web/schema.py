"""``document(app)``: an OpenAPI document that says what the routes really answer.

FastAPI's own lists 200 and a 422 that is never sent (validation errors answer 400).
This one lists the errors the guard and the routes answer, all ``{"error": message}``,
the patterns each path segment must match, and the body of ``POST /job``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ..job import PRIORITIES
from ..keys import STATES

NAME = "^[A-Za-z0-9_.:-]{1,128}$"
SEGMENTS: dict[str, dict[str, Any]] = {
    "id_text": {"type": "string", "pattern": "^[0-9]{1,15}$"},
    "span_text": {"type": "string", "pattern": "^[0-9]{1,9}[.][.][0-9]{1,9}$"},
    "order": {"type": "string", "enum": ["asc", "desc"]},
    "state": {"type": "string", "enum": list(STATES)},
    "job_type": {"type": "string", "pattern": NAME},
    "priority": {"type": "string", "pattern": f"^({'|'.join(PRIORITIES)}|-?[0-9]{{1,12}})$"},
}
ERRORS = {
    400: "Bad input (nothing was changed)",
    401: "The token is missing or wrong (a token is set)",
    403: "A cross-site request from a browser",
    404: "No such job",
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
            "properties": {
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
                "remove_on_complete": {"type": ["boolean", "integer"], "minimum": 0},
            },
        },
    },
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
            if method == "get" and "{id_text}" in path:
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
            if path.endswith("/events"):
                responses["200"] = {
                    "description": "Server-Sent Events, one per queue event",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                }
            if method == "post" and path.endswith("/job"):
                operation["requestBody"] = NEW_JOB_BODY
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas["Error"] = ERROR_SCHEMA
    schemas["NewJob"] = JOB
    return spec
