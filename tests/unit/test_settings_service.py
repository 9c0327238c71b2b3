"""Settings changes through the service: audit logging's own switch is audited
at both ends, and invalid values write nothing."""

from __future__ import annotations

import json

import pytest

from wg_desktop.config import SettingError
from wg_desktop.services.audit import AuditQuery
from wg_desktop.services.settings_service import SettingsService


@pytest.fixture
def service(ctx) -> SettingsService:
    return SettingsService(ctx.settings, ctx.secrets, ctx.audit)


def _changes(ctx) -> list[dict]:
    return [json.loads(e.details) for e in reversed(ctx.audit.entries())
            if e.action == "settings_change"]


def test_turning_audit_logging_off_is_the_last_entry_of_the_trail(ctx, service):
    changed = service.apply({"features.audit_logging": False, "ratelimit.per_minute": 50})
    assert sorted(changed) == ["features.audit_logging", "ratelimit.per_minute"]
    assert ctx.audit.enabled is False
    assert json.loads(ctx.paths.settings_file.read_text())["features.audit_logging"] is False
    newest = ctx.audit.entries(AuditQuery(limit=1))[0]
    assert json.loads(newest.details) == {"setting": "features.audit_logging", "value": False}
    assert {"setting": "ratelimit.per_minute", "value": 50} in _changes(ctx)
    # Nothing after it: logging is off now.
    service.apply({"ratelimit.per_hour": 500})
    assert ctx.audit.entries(AuditQuery(limit=1))[0] == newest
    assert ctx.audit.verify().intact


def test_turning_audit_logging_back_on_is_the_first_entry_after(ctx, service):
    service.apply({"features.audit_logging": False})
    off = ctx.audit.count()
    service.apply({"features.audit_logging": True})
    assert ctx.audit.enabled is True
    assert ctx.audit.count() == off + 1
    newest = ctx.audit.entries(AuditQuery(limit=1))[0]
    assert json.loads(newest.details) == {"setting": "features.audit_logging", "value": True}
    assert ctx.audit.verify().intact


def test_failed_save_of_the_switch_is_audited_and_leaves_logging_on(ctx, service,
                                                                     monkeypatch):
    def refuse(changes):
        raise OSError("disk full")

    monkeypatch.setattr(ctx.settings, "updated", refuse)
    with pytest.raises(OSError):
        service.apply({"features.audit_logging": False})
    assert ctx.audit.enabled is True
    newest = ctx.audit.entries(AuditQuery(limit=1))[0]
    assert newest.outcome == "failure" and "disk full" in newest.details


@pytest.mark.parametrize("key,raw", [
    ("notify.webhook_urls", '["file:///etc/passwd"]'),
    ("notify.webhook_urls", "https://a.example,https://b.example"),
    ("notify.email_from", "not-an-email"),
    ("hubspot.flows_api_version", "../../../etc"),
])
def test_invalid_value_writes_and_audits_nothing(ctx, service, key, raw):
    before = ctx.audit.count()
    with pytest.raises(SettingError) as info:
        service.apply({key: raw})
    assert info.value.key == key
    assert not ctx.paths.settings_file.exists()
    assert ctx.audit.count() == before
