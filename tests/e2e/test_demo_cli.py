"""``wg-desktop demo-portal`` standalone: started in a subprocess, it prints
its URL and credentials, answers HTTP, and stops cleanly on SIGTERM."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from wg_desktop.demo import command

ROOT = Path(__file__).resolve().parents[2]


def start(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "wg_desktop.demo.command", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_lines_until(proc: subprocess.Popen, pattern: str, timeout: float = 20) -> list[str]:
    lines: list[str] = []
    done = threading.Event()

    def reader() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if re.search(pattern, line):
                done.set()
                return
        done.set()

    threading.Thread(target=reader, daemon=True).start()
    if not done.wait(timeout) or not any(re.search(pattern, line) for line in lines):
        proc.kill()
        raise AssertionError(f"no line matching {pattern!r}; got {lines!r}; stderr={proc.stderr.read()!r}")
    return lines


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_standalone_banner_and_curl_like_requests():
    proc = start("--port", "0", "--workflows", "7", "--seed", "4", "--error-5xx-rate", "0")
    try:
        lines = read_lines_until(proc, r"Press Ctrl-C")
        text = "".join(lines)
        base_url = re.search(r"base URL:\s+(http://127\.0\.0\.1:\d+)", text).group(1)
        client_id = re.search(r"client id:\s+(\S+)", text).group(1)
        assert re.search(r"client secret:\s+demo-secret-[0-9a-f]+", text)
        assert "redirect URI:   http://localhost:53682/oauth/callback" in text
        tokens = re.findall(r"private-app token: (pat-\S+)", text)
        assert len(tokens) == 2
        flows = httpx.get(base_url + "/automation/v4/flows", headers={"Authorization": f"Bearer {tokens[0]}"})
        assert flows.status_code == 200 and len(flows.json()["results"]) == 7
        page = httpx.get(base_url + "/oauth/authorize",
                         params={"client_id": client_id, "redirect_uri": "http://localhost:53682/oauth/callback",
                                 "scope": "automation oauth"})
        assert page.status_code == 200 and 'id="allow"' in page.text
    finally:
        assert stop(proc) == 0


def test_standalone_json_mode_with_fault_options():
    proc = start("--port", "0", "--workflows", "3", "--json", "--drop-rate", "1", "--burst-limit", "5",
                 "--redirect-uri", "http://localhost:8123/cb")
    try:
        info = json.loads(read_lines_until(proc, r"^\{")[-1])
        assert info["redirectUris"] == ["http://localhost:8123/cb"]
        assert info["faults"] == {"drop_rate": 1.0}
        token = info["portals"][0]["privateAppToken"]
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(info["baseUrl"] + "/automation/v4/flows", headers={"Authorization": f"Bearer {token}"})
        httpx.post(info["baseUrl"] + "/__demo__/faults", json={"drop_rate": 0})
        answer = httpx.get(info["baseUrl"] + "/integrations/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200 and answer.headers["X-HubSpot-RateLimit-Max"] == "5"
    finally:
        assert stop(proc) == 0


def test_bad_option_value_fails_with_a_message():
    proc = start("--workflows", "-5")
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2 and "workflows" in err


def test_register_wires_a_subcommand():
    parser = argparse.ArgumentParser(prog="wg-desktop")
    sub = parser.add_subparsers(dest="command")
    command.register(sub)
    args = parser.parse_args(["demo-portal", "--port", "0", "--workflows", "12", "--seed", "9",
                              "--error-5xx-rate", "0.25", "--latency-ms", "30", "--drift-interval", "5",
                              "--rotate-refresh-tokens", "--no-retry-after", "--daily-limit", "1000"])
    assert args.handler is command.run
    config = command.config_from_args(args)
    assert (config.port, config.workflows, config.seed) == (0, 12, 9)
    assert config.faults.error_5xx_rate == 0.25 and config.faults.latency_ms == 30
    assert config.drift_interval == 5 and config.rotate_refresh_tokens and not config.send_retry_after
    assert config.daily_limit == 1000


def test_cut_off_rate_flag_reaches_the_config():
    parser = argparse.ArgumentParser(prog="wg-desktop demo-portal")
    command.add_arguments(parser)
    config = command.config_from_args(parser.parse_args(["--cut-off-rate", "0.05"]))
    assert config.faults.cut_off_rate == 0.05
    with pytest.raises(ValueError):
        command.config_from_args(parser.parse_args(["--cut-off-rate", "1.5"]))
