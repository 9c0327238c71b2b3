"""``settings list`` shows the new notification settings, the webhook secret
masked; ``settings set`` takes the secret from standard input only."""

from __future__ import annotations

import json

from tests.support.cli import base_env, run

NEW = {"alerts.cooldown_minutes": 60, "notify.smtp_security": "auto",
       "notify.webhook_secret": "(not set)", "notify.weekly_report": False}


def test_listed_with_the_secret_masked(data_dir):
    env = base_env(data_dir)
    listed = {r["key"]: r for r in json.loads(run(["settings", "list", "--json"], env).stdout)}
    assert {k: listed[k]["value"] for k in NEW} == NEW
    refused = run(["settings", "set", "notify.webhook_secret", "on-the-command-line"], env)
    assert refused.returncode == 2 and "never taken from the command line" in refused.stderr
    done = run(["settings", "set", "notify.webhook_secret", "-"], env, stdin="hook-s3cret\n")
    assert done.returncode == 0, done.stderr
    for key, value in (("alerts.cooldown_minutes", "15"), ("notify.smtp_security", "ssl")):
        assert run(["settings", "set", key, value], env).returncode == 0
    out = run(["settings", "list", "--json"], env).stdout
    listed = {r["key"]: r for r in json.loads(out)}
    assert listed["notify.webhook_secret"]["value"] == "(set)"
    assert "hook-s3cret" not in out
    assert listed["alerts.cooldown_minutes"]["value"] == 15
    assert listed["notify.smtp_security"]["value"] == "ssl"
    bad = run(["settings", "set", "notify.smtp_security", "tls"], env)
    assert bad.returncode == 2
    [line] = bad.stderr.strip().splitlines()
    assert "expected one of auto, starttls, ssl, none" in line
