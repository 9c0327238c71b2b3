"""A real Secret Service (gnome-keyring) on a private D-Bus session bus, for
benchmarks that must measure the keychain a Linux desktop has.

Started only where ``dbus-daemon`` and ``gnome-keyring-daemon`` are installed
(Debian: ``apt-get install gnome-keyring dbus``); :func:`available` says
whether they are. Both daemons run in the foreground as our children, with a
private runtime folder, and are stopped by process id on exit. Child processes
given :attr:`SecretServiceSession.env` find the bus, and ``keyring`` picks its
``SecretService`` backend by itself, as on a desktop.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from typing import Any

from benchmarks.common import stop_process

UNLOCK_PASSWORD = b"benchmark-keyring"


def available() -> bool:
    return all(shutil.which(tool) for tool in ("dbus-daemon", "gnome-keyring-daemon"))


class SecretServiceSession:
    def __init__(self) -> None:
        self.env: dict[str, str] = {}
        self._runtime: tempfile.TemporaryDirectory[str] | None = None
        self._processes: list[subprocess.Popen[Any]] = []

    def __enter__(self) -> "SecretServiceSession":
        self._runtime = tempfile.TemporaryDirectory(prefix="wg-bench-bus-")
        os.chmod(self._runtime.name, 0o700)
        bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--nopidfile",
                                "--print-address=1"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
        self._processes.append(bus)
        assert bus.stdout is not None
        address = bus.stdout.readline().strip()
        if not address:
            self.__exit__()
            raise RuntimeError("the private D-Bus session did not start")
        self.env = {"DBUS_SESSION_BUS_ADDRESS": address, "XDG_RUNTIME_DIR": self._runtime.name}
        keyring_daemon = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, **self.env})
        self._processes.append(keyring_daemon)
        assert keyring_daemon.stdin is not None
        keyring_daemon.stdin.write(UNLOCK_PASSWORD)
        keyring_daemon.stdin.close()
        self._wait_for_service()
        return self

    def _wait_for_service(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            probe = subprocess.run(
                ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
                 "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner",
                 "string:org.freedesktop.secrets"],
                env={**os.environ, **self.env}, capture_output=True, text=True)
            if "boolean true" in probe.stdout:
                return
            time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("gnome-keyring did not take the Secret Service name on the bus")

    def __exit__(self, *exc: object) -> None:
        for process in reversed(self._processes):
            stop_process(process, timeout_s=5)
        self._processes.clear()
        if self._runtime is not None:
            self._runtime.cleanup()
            self._runtime = None
