from __future__ import annotations

import threading
import time

import pytest

from wg_desktop.hubspot.errors import ClientError, NetworkError, ReauthenticationNeeded
from wg_desktop.security.secrets import MemorySecrets
from wg_desktop.services.tokens import TokenManager, TokenSet, TokenVault


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def setup(expires_in: float, refresher, clock=None, outcomes=None):
    clock = clock or Clock()
    vault = TokenVault(MemorySecrets())
    vault.save("42", TokenSet("access-1", "refresh-1", clock() + expires_in, ("automation",)))
    manager = TokenManager(vault, refresher, buffer_seconds=300, clock=clock,
                           on_refresh=(outcomes.append if outcomes is not None else None))
    return manager, vault, clock


def test_no_refresh_while_more_than_five_minutes_left():
    calls = []
    manager, _, _ = setup(301, lambda rt: calls.append(rt) or {})
    assert manager.access_token("42") == "access-1"
    assert calls == []


def test_refresh_within_the_buffer_keeps_refresh_token_when_not_rotated():
    outcomes = []
    manager, vault, clock = setup(299, lambda rt: {"access_token": "access-2",
                                                   "expires_in": 1800}, outcomes=outcomes)
    assert manager.access_token("42") == "access-2"
    stored = vault.load("42")
    assert stored.refresh_token == "refresh-1"
    assert stored.expires_at == clock() + 1800
    assert stored.scopes == ("automation",)
    assert [o.ok for o in outcomes] == [True]


def test_rotated_refresh_token_replaces_the_old_one():
    manager, vault, _ = setup(10, lambda rt: {"access_token": "access-2", "expires_in": 1800,
                                              "refresh_token": "refresh-2"})
    manager.access_token("42")
    assert vault.load("42").refresh_token == "refresh-2"


def test_concurrent_requests_cause_a_single_refresh():
    calls = []
    gate = threading.Event()

    def slow_refresh(rt):
        calls.append(rt)
        gate.wait(5)
        return {"access_token": "access-2", "expires_in": 1800}

    manager, _, _ = setup(10, slow_refresh)
    results = []
    threads = [threading.Thread(target=lambda: results.append(manager.access_token("42")))
               for _ in range(10)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(5)
    assert calls == ["refresh-1"]
    assert results == ["access-2"] * 10


def test_refresh_after_401_only_once_for_the_same_rejected_token():
    calls = []
    manager, _, _ = setup(1000, lambda rt: calls.append(rt) or {"access_token": "access-2",
                                                                "expires_in": 1800})
    assert manager.refresh("42", "access-1") == "access-2"
    assert manager.refresh("42", "access-1") == "access-2"   # already refreshed
    assert calls == ["refresh-1"]


@pytest.mark.parametrize("code", ["BAD_REFRESH_TOKEN", "invalid_grant"])
def test_dead_refresh_token_needs_reconnect(code):
    outcomes = []

    def refuse(rt):
        # what api.refresh_access_token raises for HubSpot's answer
        raise ReauthenticationNeeded("missing or invalid refresh token", status=400,
                                     error_code=code)

    manager, _, _ = setup(10, refuse, outcomes=outcomes)
    with pytest.raises(ReauthenticationNeeded):
        manager.access_token("42")
    assert outcomes[-1].needs_reconnect and not outcomes[-1].ok


def test_network_failure_during_refresh_is_not_a_reconnect():
    outcomes = []

    def offline(rt):
        raise NetworkError("connection refused")

    manager, vault, _ = setup(10, offline, outcomes=outcomes)
    with pytest.raises(NetworkError):
        manager.access_token("42")
    assert not outcomes[-1].needs_reconnect
    assert vault.load("42").access_token == "access-1"   # nothing lost


def test_private_app_token_never_refreshes():
    vault = TokenVault(MemorySecrets())
    vault.save("7", TokenSet("pat-token", None, None))
    manager = TokenManager(vault, lambda rt: pytest.fail("no refresh"), clock=Clock())
    assert manager.access_token("7") == "pat-token"
    assert manager.refresh_if_due("7") is False
    with pytest.raises(ReauthenticationNeeded):
        manager.refresh("7", "pat-token")


def test_unknown_portal_needs_connecting():
    manager = TokenManager(TokenVault(MemorySecrets()), lambda rt: {}, clock=Clock())
    with pytest.raises(ReauthenticationNeeded, match="No stored tokens"):
        manager.access_token("99")


def test_hourly_check_refreshes_only_when_due():
    calls = []
    manager, _, clock = setup(3600, lambda rt: calls.append(rt) or {
        "access_token": "access-2", "expires_in": 1800})
    assert manager.refresh_if_due("42") is False
    clock.now += 3400
    assert manager.refresh_if_due("42") is True
    assert calls == ["refresh-1"]


def test_malformed_token_response_keeps_the_old_tokens():
    manager, vault, _ = setup(10, lambda rt: {"access_token": "", "expires_in": "soon"})
    with pytest.raises(ValueError):
        manager.access_token("42")
    assert vault.load("42").access_token == "access-1"


def test_other_refusals_are_failures_but_not_a_reconnect():
    outcomes = []

    def misconfigured(rt):
        raise ClientError("bad client id", status=400, error_code="BAD_CLIENT_ID")

    manager, vault, _ = setup(10, misconfigured, outcomes=outcomes)
    with pytest.raises(ClientError):
        manager.access_token("42")
    assert outcomes[-1].ok is False and outcomes[-1].needs_reconnect is False
    assert vault.load("42").refresh_token == "refresh-1"
