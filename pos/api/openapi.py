"""The OpenAPI 3.1 document, built from the route tables and the pydantic models."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from pos import __version__
from pos.api.auth import REPORT_COOKIE
from pos.api.routing import SECURITY, STAFF_KINDS, RouteSpec
from pos.errors import CATALOGUE
from pos.roles import ADMITS

ROUTE_SPECS = web.AppKey("route_specs", list[RouteSpec])

_PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"},
        # Every code the service may answer, from the one catalogue in pos.errors.
        "code": {"type": "string", "enum": sorted(CATALOGUE),
                 "description": "The stable machine code:\n\n" + "\n".join(
                     f"- `{e.code}` ({e.status}): {e.title}" for e in CATALOGUE.values())},
    },
    "x-problem-codes": [{"code": e.code, "status": e.status, "title": e.title}
                        for e in CATALOGUE.values()],
}


def _schema_ref(model: type[BaseModel], components: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def openapi_document(app: web.Application) -> dict[str, Any]:
    components: dict[str, Any] = {"Problem": _PROBLEM}
    paths: dict[str, dict[str, Any]] = {}
    for spec in app[ROUTE_SPECS]:
        op: dict[str, Any] = {
            "summary": spec.summary,
            "operationId": f"{spec.method.lower()}_{spec.handler.__name__}",
            "responses": {
                str(spec.status): {"description": "Success",
                                   "content": {spec.content_type: {}}},
                "default": {"description": "A refusal",
                            "content": {"application/problem+json": {
                                "schema": {"$ref": "#/components/schemas/Problem"}}}},
            },
        }
        if SECURITY[spec.auth]:
            op["security"] = [{scheme: []} for scheme in SECURITY[spec.auth]]
        if spec.auth in STAFF_KINDS:
            op["x-roles"] = sorted(ADMITS[STAFF_KINDS[spec.auth]])
        params = [{"name": name, "in": "path", "required": True,
                   "schema": ({"type": "string", "format": "uuid"}
                              if name == "id" or name.endswith("_id")
                              else {"type": "string"})}
                  for name in re.findall(r"{(\w+)[^}]*}", spec.path)]
        params += [{"name": q.name, "in": "query", "required": False,
                    "description": q.description, "schema": dict(q.schema)}
                   for q in spec.query]
        if spec.idempotent:
            params.append({"name": "Idempotency-Key", "in": "header", "required": True,
                           "schema": {"type": "string", "maxLength": 200}})
        if spec.auth in ("till", "till_or_admin"):
            params.append({"name": "Accept-Language", "in": "header", "required": False,
                           "description": "The language of reasons and refusals: zh-CN "
                                          "(the default) or en.",
                           "schema": {"type": "string", "default": "zh-CN"}})
        if params:
            op["parameters"] = params
        if spec.body is not None:
            op["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": _schema_ref(spec.body, components)}}}
        paths.setdefault(spec.path, {})[spec.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Voucher redemption service", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "admin": {"type": "http", "scheme": "bearer",
                          "description": "The bootstrap admin token (role admin)."},
                "personal_token": {"type": "http", "scheme": "bearer",
                                   "description": "A named account's personal API token "
                                                  "(pat_...): that account's role."},
                "console_session": {"type": "apiKey", "in": "cookie", "name": "pos_session",
                                    "description": "A console session; unsafe methods also "
                                                   "send its X-CSRF-Token header."},
                "till": {"type": "http", "scheme": "bearer",
                         "description": "A till's secret."},
                "metrics": {"type": "http", "scheme": "bearer",
                            "description": "The scrape token ([metrics] token, "
                                           "POS_METRICS_TOKEN): GET /metrics only. With "
                                           "none configured /metrics is off (404)."},
                "report_session": {"type": "apiKey", "in": "cookie", "name": REPORT_COOKIE,
                                   "description": "Signed in at /reports/login; "
                                                  "reports only."},
            },
        },
    }
