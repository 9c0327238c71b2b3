"""Test environment: set before anything imports Qt (see shared platform notes)."""

from __future__ import annotations

import os
import tempfile

_XDG_ROOT = tempfile.mkdtemp(prefix="wg-tests-xdg-")
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["QTWEBENGINE_DISABLE_SANDBOX"] = "1"
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox")
for _name in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_RUNTIME_DIR"):
    os.environ[_name] = os.path.join(_XDG_ROOT, _name.lower())
    os.makedirs(os.environ[_name], mode=0o700, exist_ok=True)
# The tests choose their own keyring; no variable of the developer's leaks in.
for _name in ("PYTHON_KEYRING_BACKEND", "WG_DATA_DIR", "HUBSPOT_CLIENT_ID",
              "HUBSPOT_CLIENT_SECRET", "HUBSPOT_REDIRECT_URI", "HUBSPOT_TOKEN_ENCRYPTION_KEY",
              "HUBSPOT_MOCK_MODE", "HUBSPOT_LOG_LEVEL"):
    os.environ.pop(_name, None)

import keyring  # noqa: E402
import pytest  # noqa: E402

from tests.support.memory_keyring import MemoryKeyring  # noqa: E402


@pytest.fixture(autouse=True)
def memory_keyring() -> MemoryKeyring:
    """Every test gets a fresh in-memory keychain, installed via keyring's API."""
    backend = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "wg-data"
    folder.mkdir(mode=0o700)
    return folder


@pytest.fixture
def ctx(data_dir):
    """A real application context (encrypted store, in-memory keychain)."""
    from tests.support.context import make_context

    context = make_context(data_dir)
    yield context
    context.close()
