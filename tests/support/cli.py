"""Running the command line as a user does: a real subprocess per command,
against a demo portal over loopback when HubSpot is needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from wg_desktop.demo.server import DemoConfig, DemoPortal

ROOT = Path(__file__).resolve().parents[2]


def base_env(data_dir: Path) -> dict[str, str]:
    """No variable of the developer's leaks in; secrets in a passphrase file
    (so they persist from one process to the next without a keychain)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HUBSPOT_", "WG_", "PYTHON_KEYRING"))}
    return {**env, "WG_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT),
            "WG_SECURITY_SECRET_BACKEND": "file", "WG_SECRETS_PASSPHRASE": "pass phrase"}


def run(args: list[str], env: dict[str, str], stdin: str = "",
        timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wg_desktop", *args], input=stdin,
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)


def one_line(result: subprocess.CompletedProcess) -> str:
    """The one line a failed command printed on stderr (and no traceback)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def stored_label(env: dict[str, str], hub_id: int, flow_id: str) -> str:
    """How a comparison names a stored workflow's side (before " vN of M"):
    with its portal, as sandbox and production may hold the same names."""
    portals = json.loads(run(["portals", "--json"], env).stdout)
    workflows = json.loads(run(["workflows", "--json"], env).stdout)
    portal = next(p["name"] for p in portals if p["hub_id"] == hub_id)
    name = next(w["name"] for w in workflows
                if w["hub_id"] == hub_id and w["flow_id"] == flow_id)
    return f"{portal} › {name} ({hub_id}:{flow_id})"


@contextmanager
def connected_to_demo(data_dir: Path, **config: object) -> Iterator[tuple[DemoPortal, dict]]:
    """A demo portal running beside the CLI, as a real HubSpot would, with its
    main portal connected through a private-app token."""
    config = {"burst_limit": 10_000, **config}
    with DemoPortal(DemoConfig(**config)) as demo:
        env = {**base_env(data_dir), "HUBSPOT_MOCK_MODE": "false",
               "HUBSPOT_API_BASE": demo.base_url, "HUBSPOT_AUTH_BASE": demo.base_url}
        token = demo.private_app_token(demo.portal_ids[0])
        connected = run(["connect", "--private-app-token"], env, stdin=token + "\n")
        assert connected.returncode == 0, connected.stderr
        yield demo, env
