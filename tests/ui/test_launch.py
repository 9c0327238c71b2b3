"""Opening the data folder behind the window (ui/launch.py's DataOpener): on a
worker, with the questions asked on the GUI thread, and every failure shown
once and leaving the data as it was."""

from __future__ import annotations

import keyring
import keyring.backends.fail
import pytest
from PySide6.QtWidgets import QMessageBox, QWidget

from tests.support.context import make_context
from wg_desktop.config import Settings
from wg_desktop.paths import Paths
from wg_desktop.security.redaction import SecretRegistry
from wg_desktop.security.secrets import KeyringSecrets, PassphraseFileSecrets
from wg_desktop.ui import launch
from wg_desktop.ui.launch import DataOpener

WAIT = 10_000


class Outcome:
    def __init__(self) -> None:
        self.opened: list = []
        self.failed: list[str] = []

    @property
    def settled(self) -> bool:
        return bool(self.opened or self.failed)


@pytest.fixture
def parent(qtbot):
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def dialogs(monkeypatch):
    """What the user is asked and shown, with scripted answers."""
    seen: dict[str, list] = {"question": [], "critical": [], "passphrase": []}
    answers = {"question": QMessageBox.StandardButton.Yes, "passphrase": ["a passphrase"]}

    def question(parent, title, text, *args):
        seen["question"].append(text)
        return answers["question"]

    def passphrase(parent, creating):
        seen["passphrase"].append(creating)
        return answers["passphrase"].pop(0) if answers["passphrase"] else None

    monkeypatch.setattr(launch.QMessageBox, "question", question)
    monkeypatch.setattr(launch.QMessageBox, "critical",
                        lambda parent, title, text: seen["critical"].append(text))
    monkeypatch.setattr(launch, "ask_passphrase", passphrase)
    return seen, answers


def _open(qtbot, parent, data_dir) -> tuple[DataOpener, Outcome]:
    paths = Paths.resolve(data_dir, {})
    outcome = Outcome()
    opener = DataOpener(paths, Settings.load(paths.settings_file), SecretRegistry(), parent,
                        outcome.opened.append, outcome.failed.append)
    opener.start()
    qtbot.waitUntil(lambda: outcome.settled, timeout=WAIT)
    return opener, outcome


def test_opens_the_context_on_a_worker(qtbot, parent, data_dir, dialogs):
    opener, outcome = _open(qtbot, parent, data_dir)
    try:
        assert outcome.failed == [] and dialogs[0]["critical"] == []
        ctx = outcome.opened[0]
        assert opener.context is ctx                   # the teardown closes it
        assert isinstance(ctx.secrets, KeyringSecrets)
        assert ctx.settings is opener.settings         # the window's own settings object
        assert ctx.registry is opener.registry         # the crash handler's registry
        # Usable from here, though opened elsewhere: the worker left no connection.
        with ctx.store.session():
            assert ctx.audit.entries() is not None
    finally:
        opener.context.close()


def test_no_keychain_offers_the_secrets_file_and_asks_its_passphrase(
        qtbot, parent, data_dir, dialogs):
    keyring.set_keyring(keyring.backends.fail.Keyring())
    seen, _ = dialogs
    opener, outcome = _open(qtbot, parent, data_dir)
    try:
        assert outcome.failed == [] and seen["critical"] == []
        assert len(seen["question"]) == 1 and "No usable keychain" in seen["question"][0]
        assert seen["passphrase"] == [True]            # the file is created: asked twice
        ctx = outcome.opened[0]
        assert isinstance(ctx.secrets, PassphraseFileSecrets)
        assert ctx.settings.get("security.secret_backend") == "file"
        assert Settings.load(ctx.paths.settings_file).get("security.secret_backend") == "file"
    finally:
        opener.context.close()


def test_declining_the_secrets_file_gives_up_without_creating_anything(
        qtbot, parent, data_dir, dialogs):
    keyring.set_keyring(keyring.backends.fail.Keyring())
    seen, answers = dialogs
    answers["question"] = QMessageBox.StandardButton.No
    opener, outcome = _open(qtbot, parent, data_dir)
    assert outcome.opened == [] and len(outcome.failed) == 1
    assert "No usable keychain" in outcome.failed[0]
    assert opener.context is None
    assert not Paths.resolve(data_dir, {}).database.exists()


def test_a_cancelled_passphrase_is_explained_once(qtbot, parent, data_dir, dialogs,
                                                  monkeypatch):
    seen, answers = dialogs
    Paths.resolve(data_dir, {}).ensure()
    Settings.load(Paths.resolve(data_dir, {}).settings_file).updated(
        {"security.secret_backend": "file"})
    answers["passphrase"] = []                         # the user presses Cancel
    opener, outcome = _open(qtbot, parent, data_dir)
    assert outcome.opened == [] and len(seen["critical"]) == 1
    assert "needs its passphrase" in seen["critical"][0] == outcome.failed[0]
    assert seen["passphrase"] == [True]                # asked once, not in a loop


def test_a_wrong_passphrase_leaves_the_secrets_file_as_it_was(qtbot, parent, data_dir,
                                                              dialogs, monkeypatch):
    seen, answers = dialogs
    paths = Paths.resolve(data_dir, {})
    paths.ensure()
    Settings.load(paths.settings_file).updated({"security.secret_backend": "file"})
    monkeypatch.setenv("WG_SECRETS_PASSPHRASE", "the right one")
    make_context(data_dir, {"WG_SECRETS_PASSPHRASE": "the right one"}).close()
    before = paths.secrets_file.read_bytes()
    monkeypatch.delenv("WG_SECRETS_PASSPHRASE")
    answers["passphrase"] = ["a wrong one"]
    opener, outcome = _open(qtbot, parent, data_dir)
    assert outcome.opened == [] and len(seen["critical"]) == 1
    assert seen["passphrase"] == [False]               # the file exists: asked once
    assert paths.secrets_file.read_bytes() == before


def test_a_database_of_another_key_is_refused_and_left_unchanged(qtbot, parent, data_dir,
                                                                 dialogs, monkeypatch):
    seen, _ = dialogs
    make_context(data_dir, {"HUBSPOT_TOKEN_ENCRYPTION_KEY": "cd" * 32}).close()
    database = Paths.resolve(data_dir, {}).database
    before = database.read_bytes()
    monkeypatch.setenv("HUBSPOT_TOKEN_ENCRYPTION_KEY", "ef" * 32)
    opener, outcome = _open(qtbot, parent, data_dir)
    assert outcome.opened == [] and len(seen["critical"]) == 1
    assert "database key is wrong" in seen["critical"][0]
    assert database.read_bytes() == before
    assert opener.context is None


class _Overview(QWidget):
    from PySide6.QtCore import Signal
    loaded = Signal(object)


def test_deferred_work_waits_for_the_overviews_first_load(qtbot, monkeypatch):
    page = _Overview()
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    ran: list[str] = []
    launch.after_first_load(page, [lambda: ran.append("services"), lambda: ran.append("jobs")])
    qtbot.wait(100)
    assert ran == []                          # painted, but nothing loaded yet
    page.loaded.emit(object())
    qtbot.waitUntil(lambda: ran == ["services", "jobs"], timeout=2000)
    page.loaded.emit(object())                # later loads start nothing again
    qtbot.wait(50)
    assert ran == ["services", "jobs"]


def test_a_load_that_never_comes_does_not_hold_the_work_back(qtbot, monkeypatch):
    monkeypatch.setattr(launch, "FIRST_LOAD_WAIT_MS", 50)
    page = _Overview()
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    ran: list[str] = []
    launch.after_first_load(page, [lambda: ran.append("jobs")])
    qtbot.waitUntil(lambda: ran == ["jobs"], timeout=2000)


def test_started_in_the_tray_the_work_runs_at_once(qtbot):
    page = _Overview()                        # never shown: it loads when shown
    qtbot.addWidget(page)
    ran: list[str] = []
    launch.after_first_load(page, [lambda: ran.append("jobs")])
    qtbot.waitUntil(lambda: ran == ["jobs"], timeout=500)


def test_an_unexpected_error_is_shown_once_with_secrets_removed(qtbot, parent, data_dir,
                                                                dialogs, monkeypatch, caplog):
    import wg_desktop.context

    seen, _ = dialogs
    secret = "s3cret-refresh-token-0123456789"

    def broken(*args, **kwargs):
        kwargs["registry"].add(secret)
        raise ValueError(f"cannot parse {secret}")

    monkeypatch.setattr(wg_desktop.context, "build_context", broken)
    opener, outcome = _open(qtbot, parent, data_dir)
    assert outcome.opened == [] and len(seen["critical"]) == 1
    assert seen["critical"][0].startswith("The data folder could not be opened: ValueError")
    assert secret not in seen["critical"][0] and secret not in outcome.failed[0]
    assert "could not open the data folder" in caplog.text and secret not in caplog.text


def test_a_failed_open_on_the_worker_leaves_no_connection_behind(qtbot, parent, data_dir,
                                                                 dialogs, monkeypatch):
    """A pooled worker's thread teardown crashes SQLite's finaliser when a
    connection is left open (see Store.session): a store that fails half-way
    through opening must close what it opened, or this test kills pytest."""
    import wg_desktop.store.db as db

    seen, _ = dialogs
    make_context(data_dir, {"HUBSPOT_TOKEN_ENCRYPTION_KEY": "cd" * 32}).close()
    monkeypatch.setenv("HUBSPOT_TOKEN_ENCRYPTION_KEY", "cd" * 32)

    def check_fails(*args, **kwargs):
        raise RuntimeError("the check broke")

    monkeypatch.setattr(db, "_run_check", check_fails)
    for _ in range(3):              # several pooled threads, each torn down
        opener, outcome = _open(qtbot, parent, data_dir)
        assert outcome.opened == [] and "the check broke" in outcome.failed[0]
    qtbot.wait(200)
    assert len(seen["critical"]) == 3


def test_services_that_cannot_be_made_end_the_app_with_status_1(qtbot, parent, monkeypatch,
                                                                dialogs):
    import wg_desktop.ui.app

    seen, _ = dialogs

    def no_port(ctx):
        raise OSError("address already in use: 127.0.0.1:0")

    monkeypatch.setattr(wg_desktop.ui.app, "build_services", no_port)
    parent.ctx = object()
    codes: list[int] = []
    assert launch.services_or_quit(parent, codes.append) is None
    assert seen["critical"] == ["address already in use: 127.0.0.1:0"]
    qtbot.waitUntil(lambda: codes == [1], timeout=2000)
