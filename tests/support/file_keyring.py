"""A keyring backend shared by several processes through one JSON file.

Subprocess tests select it with ``PYTHON_KEYRING_BACKEND=
tests.support.file_keyring.FileKeyring`` and ``WG_TEST_KEYRING_FILE``. Like a
real keychain (and like the Secret Service on a shared D-Bus session), each
single get/set/delete is atomic, but nothing makes a *sequence* of them atomic:
exactly what concurrent first starts must cope with.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from jaraco.classes import properties
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from wg_desktop.portable import FileLock

FILE_ENV = "WG_TEST_KEYRING_FILE"
# A real keychain answers over IPC (D-Bus, XPC, RPC): each call takes a while,
# which widens every check-then-set window to what users actually hit.
DELAY_ENV = "WG_TEST_KEYRING_DELAY"


class FileKeyring(KeyringBackend):
    @properties.classproperty
    def priority(cls) -> float:
        # keyring instantiates every backend class it knows of; this one is
        # only viable where a test named its file.
        if FILE_ENV not in os.environ:
            raise RuntimeError(f"{FILE_ENV} is not set")
        return 1

    def __init__(self) -> None:
        super().__init__()
        self.path = Path(os.environ.get(FILE_ENV, os.devnull))
        self.delay = float(os.environ.get(DELAY_ENV, "0"))

    def _lock(self) -> FileLock:
        time.sleep(self.delay)
        return FileLock(self.path.with_name(self.path.name + ".lock"))

    def _read(self) -> dict[str, str]:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}

    def _write(self, entries: dict[str, str]) -> None:
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(entries))
        os.replace(tmp, self.path)

    def get_password(self, service: str, username: str) -> str | None:
        with self._lock():
            return self._read().get(f"{service}\x00{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._lock():
            entries = self._read()
            entries[f"{service}\x00{username}"] = password
            self._write(entries)

    def delete_password(self, service: str, username: str) -> None:
        with self._lock():
            entries = self._read()
            if entries.pop(f"{service}\x00{username}", None) is None:
                raise PasswordDeleteError(username)
            self._write(entries)


def entries(path: Path) -> dict[tuple[str, str], str]:
    """The file's entries as (service, username) -> secret, for assertions."""
    if not path.exists():
        return {}
    return {tuple(k.split("\x00", 1)): v for k, v in json.loads(path.read_text()).items()}
