"""`wg-desktop connect / portals / status / disconnect` as a user runs them,
on the embedded demo portal (no HubSpot app configured)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(data_dir) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("HUBSPOT_", "WG_", "PYTHON_KEYRING"))}
    return {**base, "WG_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT),
            "WG_SECURITY_SECRET_BACKEND": "file", "WG_SECRETS_PASSPHRASE": "pass phrase"}


def run(args, env, stdin=""):
    return subprocess.run([sys.executable, "-m", "wg_desktop", *args], input=stdin,
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_demo_mode_connects_its_portal_and_lists_it(env):
    listed = run(["portals", "--json"], env)
    assert listed.returncode == 0, listed.stderr
    portals = json.loads(listed.stdout)
    assert len(portals) == 1 and portals[0]["demo"] and portals[0]["status"] == "connected"
    status = run(["status", "--json"], env)
    assert status.returncode == 0 and json.loads(status.stdout)[0]["ok"]


def test_private_app_token_from_stdin_never_argv(env, data_dir):
    # The demo portal's second portal has no workflows: refused with the reason.
    from wg_desktop.demo.server import DemoConfig, DemoPortal
    from wg_desktop.demo.embedded import DEMO_SEED, DEMO_WORKFLOWS

    with DemoPortal(DemoConfig(seed=DEMO_SEED, workflows=DEMO_WORKFLOWS)) as twin:
        starter_token = twin.private_app_token(twin.portal_ids[1])
    refused = run(["connect", "--private-app-token"], env, stdin=starter_token + "\n")
    assert refused.returncode == 1
    assert "Professional or Enterprise" in refused.stderr
    assert starter_token not in refused.stderr + refused.stdout
    for path in data_dir.rglob("*"):
        if path.is_file():
            assert starter_token.encode() not in path.read_bytes(), path
    usage = run(["connect", "--private-app-token", "pat-on-argv"], env)
    assert usage.returncode == 2      # argparse: the flag takes no value


def test_browser_flow_with_loopback_listener(env):
    proc = subprocess.Popen([sys.executable, "-m", "wg_desktop", "connect", "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=ROOT)
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            found = re.search(r"(http://127\.0\.0\.1:\d+/oauth/authorize\?\S+)", line)
            url = found.group(1) if found else None
        assert url, proc.stderr.read()
        # Wait until the loopback listener announced itself, then act as the browser.
        assert "Waiting for the browser" in proc.stdout.readline() + proc.stdout.readline()
        with httpx.Client(timeout=10, follow_redirects=False) as browser:
            page = browser.get(url)
            request_id = re.search(r'name="request_id"[^>]*value="([^"]+)"', page.text).group(1)
            base = url.split("/oauth/")[0]
            answer = browser.post(f"{base}/oauth/authorize/approve",
                                  data={"request_id": request_id})
            landing = browser.get(answer.headers["Location"].replace("localhost", "127.0.0.1"))
        assert landing.status_code == 200 and "close this tab" in landing.text
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert "Connected Acme Demo" in out and "oauth" in out
    finally:
        if proc.poll() is None:
            proc.kill()
    listed = json.loads(run(["portals", "--json"], env).stdout)
    assert listed[0]["auth"] == "oauth"


def test_disconnect_keeps_history_unless_asked(env):
    assert run(["portals"], env).returncode == 0
    gone = run(["disconnect", "1000001"], env)
    assert gone.returncode == 0, gone.stderr
    assert "Deleted the portal's tokens" in gone.stdout and "Kept the local history" in gone.stdout
    assert json.loads(run(["portals", "--json"], env).stdout) == []
    missing = run(["disconnect", "nope"], env)
    assert missing.returncode == 2 and "No portal nope here; known: none" in missing.stderr
