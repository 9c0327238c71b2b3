"""``wg-desktop settings set`` refuses invalid values; ``wg-desktop audit verify``
checks the trail's hash chain (real subprocesses, as a user runs them)."""

from __future__ import annotations

import json
import os

import pytest

from tests.e2e.test_cli import ROOT, run
from wg_desktop.config import BY_KEY, SettingError, parse_value


@pytest.fixture
def env(data_dir) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("HUBSPOT_", "WG_", "PYTHON_KEYRING"))}
    return {**base, "WG_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT),
            "WG_SECURITY_SECRET_BACKEND": "file", "WG_SECRETS_PASSPHRASE": "correct horse"}


@pytest.mark.parametrize("key,raw", [
    ("notify.webhook_urls", '["file:///etc/passwd"]'),
    ("notify.webhook_urls", '["gopher://x"]'),
    ("notify.webhook_urls", "https://a.example,https://b.example"),
    ("notify.email_from", "not-an-email"),
    ("hubspot.flows_api_version", "../../../etc"),
])
def test_settings_set_refuses_with_the_dialogs_message(env, data_dir, key, raw):
    with pytest.raises(SettingError) as info:
        parse_value(BY_KEY[key], raw)
    result = run(["settings", "set", key, raw], env)
    assert result.returncode == 2
    assert result.stderr == f"wg-desktop: error: {info.value}\n"
    assert not (data_dir / "config" / "settings.json").exists() or key not in (
        data_dir / "config" / "settings.json").read_text()


def test_audit_verify_intact_broken_and_json(env, data_dir):
    assert run(["settings", "set", "ratelimit.per_hour", "500"], env).returncode == 0
    assert run(["settings", "set", "ratelimit.per_day", "5000"], env).returncode == 0
    ok = run(["audit", "verify"], env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("audit trail intact: 2 entries, head ")
    head12 = ok.stdout.strip().rsplit(" ", 1)[1]
    data = json.loads(run(["audit", "verify", "--json"], env).stdout)
    assert data["intact"] is True and data["entries"] == 2 and data["head"][:12] == head12

    _tamper(env, data_dir)
    broken = run(["audit", "verify"], env)
    assert broken.returncode == 1
    lines = broken.stderr.strip().splitlines()
    assert lines == ["wg-desktop: audit trail broken: entry 1 was edited (its content no "
                     "longer matches its hash)"]
    data = json.loads(run(["audit", "verify", "--json"], env).stdout)
    assert data["intact"] is False
    assert data["problem"]["entry_id"] == 1 and data["problem"]["fault"] == "edited"


def _tamper(env, data_dir) -> None:
    """Edit entry 1 the way another SQLite tool would: with the key, outside the app."""
    from tests.support.context import make_context
    from wg_desktop.paths import Paths

    environ = {k: v for k, v in env.items() if k.startswith("WG_")}
    ctx = make_context(data_dir, environ)
    try:
        assert Paths.resolve(data_dir, {}).database == ctx.store.path
        ctx.store.db.execute_sql("UPDATE audit_event SET details = 'nothing to see' "
                                 "WHERE id = 1")
    finally:
        ctx.close()
