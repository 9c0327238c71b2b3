"""The demo portal against hostile or careless requests, over real loopback
HTTP: request framing (no smuggling), deeply nested JSON, and OAuth
endpoints sent JSON instead of a form."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from wg_desktop.demo.server import DemoConfig, DemoPortal

FLOWS = "/automation/v4/flows"


@pytest.fixture(scope="module")
def portal():
    with DemoPortal(DemoConfig(seed=5, workflows=3, burst_limit=100_000)) as p:
        yield p


@pytest.fixture
def bearer(portal):
    return {"Authorization": f"Bearer {portal.private_app_token(portal.portal_ids[0])}"}


def raw_exchange(portal: DemoPortal, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` on one connection and read until the server closes it."""
    host, port = portal.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                raise AssertionError(f"the server kept the connection open; got {received!r}")
            if not chunk:
                return received
            received += chunk


def responses(raw: bytes) -> list[tuple[int, bytes, bytes]]:
    """(status, head, body) of each response in ``raw``, split by Content-Length."""
    found = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        found.append((status, head, rest[:length]))
        raw = rest[length:]
    return found


def statuses(raw: bytes) -> list[int]:
    return [status for status, _, _ in responses(raw)]


def body_of(raw: bytes) -> dict:
    return json.loads(responses(raw)[0][2])


SMUGGLED = b"GET /__demo__/state HTTP/1.1\r\nHost: demo\r\n\r\n"


# -- framing --------------------------------------------------------------------------------

def test_content_length_with_chunked_is_refused_and_nothing_is_smuggled(portal):
    first = (b"POST /oauth/v1/token HTTP/1.1\r\nHost: demo\r\n"
             b"Content-Type: application/x-www-form-urlencoded\r\n"
             b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    raw = raw_exchange(portal, first + SMUGGLED)
    assert statuses(raw) == [400]
    assert b"Connection: close" in raw
    body = body_of(raw)
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR"
    assert "Content-Length" in body["message"] and body["correlationId"]
    assert not any(e.path == "/__demo__/state" for e in portal.request_log())


@pytest.mark.parametrize("headers,body", [
    (b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n"),            # a coding not implemented
    (b"Transfer-Encoding: chunked, gzip\r\n", b"0\r\n\r\n"),            # chunked not last
    (b"Transfer-Encoding: chunked\r\n", b"-5\r\nhello\r\n0\r\n\r\n"),    # negative size
    (b"Transfer-Encoding: chunked\r\n", b"0x5\r\nhello\r\n0\r\n\r\n"),   # not plain hex
    (b"Transfer-Encoding: chunked\r\n", b"5\r\nhelloXX0\r\n\r\n"),       # no CRLF after the data
    (b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!"),          # two lengths
    (b"Content-Length: +5\r\n", b"hello"),
])
def test_ambiguous_framing_is_refused_and_the_connection_closed(portal, headers, body):
    request = (b"POST /__demo__/drift HTTP/1.1\r\nHost: demo\r\nContent-Type: application/json\r\n"
               + headers + b"\r\n" + body)
    raw = raw_exchange(portal, request + SMUGGLED)
    assert len(statuses(raw)) == 1 and statuses(raw)[0] in (400, 501), raw[:200]
    assert b"Connection: close" in raw


def test_a_well_formed_chunked_body_is_read_and_keep_alive_continues(portal):
    payload = b'{"n": 1}'
    chunked = b"3;ext=1\r\n" + payload[:3] + b"\r\n" + b"%x\r\n" % (len(payload) - 3) + \
        payload[3:] + b"\r\n0\r\nX-Trailer: 1\r\n\r\n"
    request = (b"POST /__demo__/drift HTTP/1.1\r\nHost: demo\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
    closing = b"GET /__demo__/faults HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n"
    raw = raw_exchange(portal, request + closing)
    assert statuses(raw) == [200, 200]
    first = body_of(raw)
    assert len(first["results"]) == 1          # the body said n=1 and was understood


# -- JSON nesting ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", [FLOWS, FLOWS + "/batch/read"])
def test_json_nested_100000_levels_is_a_400_not_a_500(portal, bearer, path):
    deep = b"[" * 100_000 + b"]" * 100_000
    answer = httpx.post(portal.base_url + path, content=deep, timeout=10,
                        headers={**bearer, "Content-Type": "application/json"})
    assert answer.status_code == 400
    body = answer.json()
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR"
    assert "deeper than" in body["message"] and body["correlationId"]
    # the portal is still fine afterwards
    assert httpx.get(portal.base_url + FLOWS, headers=bearer).status_code == 200


def test_deep_nesting_on_the_control_endpoint_is_a_400(portal):
    answer = httpx.post(portal.base_url + "/__demo__/faults", content=b"{\"a\":" * 50_000)
    assert answer.status_code == 400 and "deeper than" in answer.json()["message"]


# -- OAuth endpoints take forms -------------------------------------------------------------

@pytest.mark.parametrize("path,new_style", [
    ("/oauth/v1/token", False), ("/oauth/2026-03/token", True), ("/oauth/v3/token", True),
    ("/oauth/2026-03/token/introspect", True), ("/oauth/2026-03/token/revoke", True)])
def test_oauth_endpoints_refuse_a_json_body_with_a_clear_message(portal, path, new_style):
    tokens = portal.issue_tokens_for_tests(portal.portal_ids[0])
    answer = httpx.post(portal.base_url + path, json={
        "grant_type": "refresh_token", "client_id": portal.client_id,
        "client_secret": portal.client_secret, "refresh_token": tokens["refresh_token"],
        "token": tokens["refresh_token"]})
    assert answer.status_code == 400
    body = answer.json()
    assert "application/x-www-form-urlencoded" in body["message"]
    assert body["status"] == "BAD_REQUEST"
    if new_style:
        assert body["error"] == "invalid_request"
        assert body["error_description"] == body["message"]
    else:
        assert "error" not in body
    # the same request as a form still works
    form = httpx.post(portal.base_url + path, data={
        "grant_type": "refresh_token", "client_id": portal.client_id,
        "client_secret": portal.client_secret, "refresh_token": tokens["refresh_token"],
        "token": tokens["refresh_token"]})
    assert form.status_code == 200


def test_v1_token_with_query_parameters_and_no_body_still_works(portal):
    tokens = portal.issue_tokens_for_tests(portal.portal_ids[0])
    answer = httpx.post(portal.base_url + "/oauth/v1/token", params={
        "grant_type": "refresh_token", "client_id": portal.client_id,
        "client_secret": portal.client_secret, "refresh_token": tokens["refresh_token"]})
    assert answer.status_code == 200

