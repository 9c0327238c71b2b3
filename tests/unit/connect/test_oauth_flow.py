from __future__ import annotations

import base64
import hashlib
import threading
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from wg_desktop.constants import OAUTH_SCOPES
from wg_desktop.services.loopback import LoopbackError, LoopbackReceiver
from wg_desktop.services.oauth_flow import (AuthorizationRequest, RedirectError,
                                            code_from_pasted_text, same_endpoint)

REDIRECT = "http://localhost:53682/oauth/callback"


def request(**kw) -> AuthorizationRequest:
    return AuthorizationRequest("https://app.example.test", "client-1", REDIRECT, **kw)


def test_authorize_url_carries_scopes_state_and_s256_challenge():
    req = request()
    parts = urlsplit(req.url)
    assert parts.path == "/oauth/authorize"
    assert "%20" in parts.query and "+" not in parts.query
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert params["scope"].split(" ") == list(OAUTH_SCOPES)
    assert params["state"] == req.state
    assert params["code_challenge_method"] == "S256"
    digest = hashlib.sha256(req.code_verifier.encode()).digest()
    assert params["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert 43 <= len(req.code_verifier) <= 128


def test_each_request_has_fresh_state_and_verifier():
    a, b = request(), request()
    assert a.state != b.state and a.code_verifier != b.code_verifier


@pytest.mark.parametrize("url, ok", [
    ("http://localhost:53682/oauth/callback?code=x", True),
    ("http://LOCALHOST:53682/oauth/callback/?code=x", True),
    ("http://localhost:53683/oauth/callback?code=x", False),
    ("https://localhost:53682/oauth/callback?code=x", False),
    ("http://localhost:53682/oauth/other?code=x", False),
    ("http://evil.test:53682/oauth/callback?code=x", False),
])
def test_redirect_matching_is_exact_on_scheme_host_port_path(url, ok):
    assert request().is_redirect(url) is ok
    assert same_endpoint(url, REDIRECT) is ok


def test_code_is_returned_only_with_the_right_state():
    req = request()
    assert req.code_from_redirect(f"{REDIRECT}?code=abc&state={req.state}") == "abc"
    with pytest.raises(RedirectError, match="state mismatch"):
        req.code_from_redirect(f"{REDIRECT}?code=abc&state=forged")
    with pytest.raises(RedirectError, match="state mismatch"):
        req.code_from_redirect(f"{REDIRECT}?code=abc")
    with pytest.raises(RedirectError, match="no authorization code"):
        req.code_from_redirect(f"{REDIRECT}?state={req.state}")
    with pytest.raises(RedirectError, match="access_denied|denied"):
        req.code_from_redirect(f"{REDIRECT}?error=access_denied&state={req.state}")


def test_pasted_text_accepts_url_or_bare_code():
    req = request()
    assert code_from_pasted_text(req, f" {REDIRECT}?code=c1&state={req.state} ") == "c1"
    assert code_from_pasted_text(req, "c2-bare") == "c2-bare"
    with pytest.raises(RedirectError):
        code_from_pasted_text(req, f"{REDIRECT}?code=c1&state=wrong")
    with pytest.raises(RedirectError):
        code_from_pasted_text(req, "two words")


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_loopback_receives_code_and_answers_the_browser():
    port = _free_port()
    req = AuthorizationRequest("https://a.test", "c", f"http://localhost:{port}/cb")
    receiver = LoopbackReceiver(req)
    result = {}
    waiter = threading.Thread(target=lambda: result.setdefault("code", receiver.wait(10)))
    waiter.start()
    miss = httpx.get(f"http://127.0.0.1:{port}/favicon.ico", timeout=5)
    assert miss.status_code == 404
    page = httpx.get(f"http://127.0.0.1:{port}/cb?code=the-code&state={req.state}", timeout=5)
    waiter.join(10)
    assert page.status_code == 200 and "close this tab" in page.text
    assert result["code"] == "the-code"


def test_loopback_ignores_a_wrong_state_and_keeps_waiting_for_ours():
    port = _free_port()
    req = AuthorizationRequest("https://a.test", "c", f"http://localhost:{port}/cb")
    receiver = LoopbackReceiver(req)
    result = {}
    waiter = threading.Thread(target=lambda: result.setdefault("code", receiver.wait(10)))
    waiter.start()
    stale = httpx.get(f"http://127.0.0.1:{port}/cb?code=x&state=forged", timeout=5)
    assert stale.status_code == 400 and "another sign-in" in stale.text
    assert waiter.is_alive()
    ours = httpx.get(f"http://127.0.0.1:{port}/cb?code=real&state={req.state}", timeout=5)
    waiter.join(10)
    assert ours.status_code == 200 and result["code"] == "real"


def test_loopback_reports_our_own_error_answer():
    port = _free_port()
    req = AuthorizationRequest("https://a.test", "c", f"http://localhost:{port}/cb")
    receiver = LoopbackReceiver(req)
    errors = []

    def wait():
        try:
            receiver.wait(10)
        except RedirectError as exc:
            errors.append(exc)
    waiter = threading.Thread(target=wait)
    waiter.start()
    page = httpx.get(f"http://127.0.0.1:{port}/cb?error=access_denied&state={req.state}",
                     timeout=5)
    waiter.join(10)
    assert page.status_code == 400 and "access_denied" in str(errors[0])


def test_request_repr_hides_state_and_verifier():
    req = AuthorizationRequest("https://a.test", "c", "http://localhost:1/cb")
    assert req.state not in repr(req) and req.code_verifier not in repr(req)


def test_loopback_cancel_and_bad_redirect_uri():
    port = _free_port()
    receiver = LoopbackReceiver(AuthorizationRequest("https://a.test", "c",
                                                     f"http://localhost:{port}/cb"))
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(LoopbackError, match="cancelled"):
        receiver.wait(10, cancel)
    with pytest.raises(LoopbackError, match="localhost:PORT"):
        LoopbackReceiver(AuthorizationRequest("https://a.test", "c", "https://example.com/cb"))
    with pytest.raises(LoopbackError, match="port"):
        LoopbackReceiver(AuthorizationRequest("https://a.test", "c", "http://localhost/cb"))


def test_loopback_port_in_use_is_a_clear_error():
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(LoopbackError, match="Cannot listen"):
            LoopbackReceiver(AuthorizationRequest("https://a.test", "c",
                                                  f"http://localhost:{port}/cb"))
