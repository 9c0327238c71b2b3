"""Where one instance of the app keeps its files.

With ``--data-dir`` (or ``WG_DATA_DIR``) every file of the instance lives under
that one folder, which makes tests, portable installs and side-by-side
instances trivial. Otherwise the platform's user folders are used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "WorkflowGuard"
APP_AUTHOR = "WorkflowGuard"
DATA_DIR_ENV = "WG_DATA_DIR"


@dataclass(frozen=True)
class Paths:
    data_dir: Path
    config_dir: Path
    log_dir: Path
    cache_dir: Path

    @classmethod
    def resolve(cls, data_dir: str | os.PathLike[str] | None = None,
                environ: dict[str, str] | None = None) -> "Paths":
        environ = os.environ if environ is None else environ
        chosen = data_dir or environ.get(DATA_DIR_ENV)
        if chosen:
            root = Path(chosen).expanduser().resolve()
            return cls(root, root / "config", root / "logs", root / "cache")
        return cls(
            Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR)),
            Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR)),
            Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR)),
            Path(platformdirs.user_cache_dir(APP_NAME, APP_AUTHOR)),
        )

    @property
    def database(self) -> Path:
        return self.data_dir / "workflowguard.db"

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "workflowguard.log"

    @property
    def backups_dir(self) -> Path:
        return self.data_dir / "backups"

    @property
    def instance_id_file(self) -> Path:
        """This data folder's identity: scopes its keychain entries."""
        return self.data_dir / "instance-id"

    @property
    def start_lock_file(self) -> Path:
        """Held while a process opens (and on first start, creates) the store."""
        return self.data_dir / ".start.lock"

    @property
    def secrets_file(self) -> Path:
        """The opt-in passphrase-protected secret file (only when no keychain)."""
        return self.config_dir / "secrets.enc"

    def ensure(self) -> "Paths":
        """Create every folder private to the user (0700).

        A data folder that exists but cannot be written (a read-only mount, a
        copy browsed elsewhere) is left as it is: the store opens read-only.
        """
        for folder in (self.data_dir, self.config_dir, self.log_dir,
                       self.cache_dir, self.backups_dir):
            try:
                make_private_dir(folder)
            except OSError:
                if folder == self.data_dir and not folder.is_dir():
                    raise
                if self.writable():
                    raise
        return self

    def writable(self) -> bool:
        """Whether this process may create files in the data folder."""
        return os.access(self.data_dir, os.W_OK)


def make_private_dir(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)


def make_private_file(path: Path) -> None:
    """Create ``path`` if needed and restrict it to the user (0600)."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def write_private_atomic(path: Path, data: bytes) -> None:
    """Write a whole file atomically (temp file + fsync + rename), mode 0600.

    A crash or a full disk mid-write leaves the previous file untouched.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    os.chmod(tmp, 0o600)  # a stale temp file keeps its old mode through O_CREAT
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
