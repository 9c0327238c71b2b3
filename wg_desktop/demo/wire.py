"""Request/response records of the demo portal and HubSpot's error shapes."""

from __future__ import annotations

import html
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import parse_qs

JSON_TYPE = "application/json;charset=utf-8"
HTML_TYPE = "text/html;charset=utf-8"
FORM_TYPE = "application/x-www-form-urlencoded"

# Deepest nesting of objects/arrays a request body may have. Real workflow
# bodies nest a dozen levels; Python's parser would hit its recursion limit
# (about 1,000) on a hostile body and the request would end in a 500.
MAX_JSON_DEPTH = 256
# A whole string literal (skipped: brackets inside it do not nest) or a bracket.
_JSON_STRUCTURE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body`` opens more than ``limit`` nested objects/arrays, found
    without parsing it (so without recursion)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    for token in _JSON_STRUCTURE.finditer(body):
        char = token.group()[:1]
        if char in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif char in (b"]", b"}"):
            depth -= 1
    return False


class BadRequestBody(ValueError):
    """The body is not what the endpoint accepts (e.g. invalid JSON)."""


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes = b""

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str = "") -> str:
        value = self.headers.get(name)
        return default if value is None else value

    def json(self) -> Any:
        if not self.body:
            raise BadRequestBody("the request body is empty")
        if json_depth_exceeds(self.body):
            raise BadRequestBody(f"the request body nests objects or arrays deeper than "
                                 f"{MAX_JSON_DEPTH} levels")
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadRequestBody(f"the request body is not valid JSON: {exc}") from None

    def form(self) -> dict[str, str]:
        """The form-encoded body (first value of each field)."""
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            return {}
        return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = JSON_TYPE
    headers: list[tuple[str, str]] = field(default_factory=list)
    payload: Any = None  # the JSON value, kept for the oversized-body fault

    @property
    def is_json(self) -> bool:
        return bool(self.body) and (self.content_type or "").startswith("application/json")


def correlation_id() -> str:
    return str(uuid.uuid4())


def json_response(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(status=status, body=body, headers=list(headers or ()), payload=payload)


def empty_response(status: int = 204, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status=status, body=b"", content_type=None, headers=list(headers or ()))


def html_response(status: int, text: str, headers: list[tuple[str, str]] | None = None) -> Response:
    hdrs = [("Cache-Control", "no-store"), ("X-Frame-Options", "DENY"), *(headers or ())]
    return Response(status=status, body=text.encode("utf-8"), content_type=HTML_TYPE, headers=hdrs)


def redirect_response(location: str) -> Response:
    return Response(status=302, body=b"", content_type=None,
                    headers=[("Location", location), ("Cache-Control", "no-store")])


def hubspot_error(status: int, category: str, message: str, *,
                  sub_category: str | None = None,
                  context: Mapping[str, list[str]] | None = None,
                  errors: list[dict[str, Any]] | None = None,
                  links: Mapping[str, str] | None = None,
                  headers: list[tuple[str, str]] | None = None) -> Response:
    """HubSpot's standard ``Error`` body: ``status: "error"``, ``message``,
    ``correlationId`` (uuid), ``category``; optional ``subCategory``,
    ``context`` (str -> [str]), ``links`` and ``errors[]``."""
    cid = correlation_id()
    body: dict[str, Any] = {"status": "error", "message": message, "correlationId": cid,
                            "category": category}
    if sub_category:
        body["subCategory"] = sub_category
    if context:
        body["context"] = {k: [str(x) for x in v] for k, v in context.items()}
    if errors:
        body["errors"] = errors
    if links:
        body["links"] = dict(links)
    return json_response(status, body, [("X-HubSpot-Correlation-Id", cid), *(headers or ())])


def not_found(message: str = "Resource not found") -> Response:
    return hubspot_error(404, "OBJECT_NOT_FOUND", message)


def validation_error(message: str, errors: list[dict[str, Any]] | None = None,
                     context: Mapping[str, list[str]] | None = None) -> Response:
    return hubspot_error(400, "VALIDATION_ERROR", message, errors=errors, context=context)


def error_page(status: int, title: str, detail: str) -> Response:
    """HubSpot shows an HTML error page when an authorize request is bad."""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} | HubSpot (demo)</title>
<style>body{{font-family:sans-serif;margin:3em auto;max-width:40em;color:#33475b}}
.error{{border-left:4px solid #f2545b;padding:.5em 1em;background:#fdedee}}</style></head>
<body><h1>Authorization failed</h1>
<div class="error" id="error" data-error="{html.escape(title)}"><h2>{html.escape(title)}</h2>
<p id="error-detail">{html.escape(detail)}</p></div>
<p><small>WorkflowGuard demo portal — not HubSpot.</small></p></body></html>"""
    return html_response(status, page)
