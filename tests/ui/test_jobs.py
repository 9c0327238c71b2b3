"""run_off_gui_thread: results and errors come back on the GUI thread."""

from __future__ import annotations

import gc
import threading

import pytest
from PySide6.QtCore import QCoreApplication, QThread, QThreadPool

from wg_desktop.ui.jobs import SynchronousPool, run_off_gui_thread

WAIT_MS = 10_000   # generous: a loaded 2-core CI box


@pytest.fixture
def pool():
    pool = QThreadPool()
    pool.setMaxThreadCount(4)
    yield pool
    pool.waitForDone(WAIT_MS)


@pytest.fixture
def gates():
    """Events that block workers; all released at teardown so no thread is left hanging."""
    made: list[threading.Event] = []

    def make() -> threading.Event:
        made.append(threading.Event())
        return made[-1]

    yield make
    for gate in made:
        gate.set()


def drain(qtbot) -> None:
    """Wait until every delivery queued so far has been processed.

    Deliveries are posted events handled in order, so once a later request's
    result has arrived, every earlier finished request has been handled too.
    """
    done: list[int] = []
    run_off_gui_thread(lambda: 1, on_result=done.append, on_error=pytest.fail, pool=SynchronousPool())
    qtbot.waitUntil(lambda: bool(done), timeout=WAIT_MS)


def on_gui_thread() -> bool:
    return QThread.currentThread() == QCoreApplication.instance().thread()


def test_result_is_delivered_on_the_gui_thread(qtbot, pool) -> None:
    main_ident = threading.get_ident()
    worker_ident: list[int] = []
    got: list[tuple[object, bool, int]] = []

    def work() -> int:
        worker_ident.append(threading.get_ident())
        return 42

    run_off_gui_thread(work, pool=pool,
                       on_result=lambda v: got.append((v, on_gui_thread(), threading.get_ident())),
                       on_error=pytest.fail)
    qtbot.waitUntil(lambda: bool(got), timeout=WAIT_MS)
    assert got == [(42, True, main_ident)]
    assert worker_ident and worker_ident[0] != main_ident


def test_error_is_delivered_on_the_gui_thread(qtbot, pool) -> None:
    errors: list[tuple[BaseException, bool]] = []
    results: list[object] = []

    def work() -> None:
        raise ValueError("boom")

    run_off_gui_thread(work, pool=pool, on_result=results.append,
                       on_error=lambda e: errors.append((e, on_gui_thread())))
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
    (error, gui), = errors
    assert isinstance(error, ValueError) and str(error) == "boom"
    assert error.__traceback__ is not None
    assert gui
    assert results == []


def test_base_exceptions_also_end_up_in_on_error(qtbot, pool) -> None:
    class Abort(BaseException):
        pass

    errors: list[BaseException] = []

    def work() -> None:
        raise Abort()

    run_off_gui_thread(work, pool=pool, on_result=pytest.fail, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
    assert isinstance(errors[0], Abort)


def test_discard_drops_a_stale_result(qtbot, pool, gates) -> None:
    gate = gates()
    stale: list[object] = []
    fresh: list[object] = []
    old = run_off_gui_thread(lambda: gate.wait(WAIT_MS / 1000) and "old", pool=pool,
                             on_result=stale.append, on_error=stale.append)
    new = run_off_gui_thread(lambda: "new", pool=pool, on_result=fresh.append, on_error=pytest.fail)
    assert old.token != new.token
    old.discard()          # a newer request supersedes it
    gate.set()
    assert pool.waitForDone(WAIT_MS)
    drain(qtbot)
    assert fresh == ["new"]
    assert stale == []
    assert old.discarded and old.finished and not old.delivered
    assert new.delivered and not new.discarded


def test_discard_after_delivery_is_harmless(qtbot, pool) -> None:
    got: list[object] = []
    handle = run_off_gui_thread(lambda: 1, pool=pool, on_result=got.append, on_error=pytest.fail)
    qtbot.waitUntil(lambda: bool(got), timeout=WAIT_MS)
    handle.discard()
    assert handle.delivered and not handle.discarded
    assert got == [1]


def test_synchronous_pool_runs_inline_but_delivers_from_the_event_loop(qtbot) -> None:
    ran_in: list[int] = []
    got: list[object] = []

    def work() -> str:
        ran_in.append(threading.get_ident())
        return "done"

    handle = run_off_gui_thread(work, pool=SynchronousPool(), on_result=got.append, on_error=pytest.fail)
    # The work has already run in this thread, but the callback is not called
    # re-entrantly from inside run_off_gui_thread.
    assert ran_in == [threading.get_ident()]
    assert handle.finished
    assert got == []
    qtbot.waitUntil(lambda: bool(got), timeout=WAIT_MS)
    assert got == ["done"]


def test_synchronous_pool_delivers_errors_too(qtbot) -> None:
    errors: list[BaseException] = []
    run_off_gui_thread(lambda: 1 / 0, pool=SynchronousPool(), on_result=pytest.fail, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
    assert isinstance(errors[0], ZeroDivisionError)


def test_flush_delivers_now_and_only_once(qtbot) -> None:
    got: list[object] = []
    handle = run_off_gui_thread(lambda: "x", pool=SynchronousPool(),
                                on_result=got.append, on_error=pytest.fail)
    assert handle.flush() is True
    assert got == ["x"]
    drain(qtbot)            # the queued delivery arrives later and must not repeat it
    assert got == ["x"]


def test_flush_of_unfinished_work_returns_false(qtbot, pool, gates) -> None:
    gate = gates()
    got: list[object] = []
    handle = run_off_gui_thread(lambda: gate.wait(WAIT_MS / 1000), pool=pool,
                                on_result=got.append, on_error=pytest.fail)
    assert handle.flush() is False
    assert got == []
    gate.set()
    qtbot.waitUntil(lambda: bool(got), timeout=WAIT_MS)
    assert got == [True]


def test_result_arrives_even_if_the_caller_drops_the_handle(qtbot, pool, gates) -> None:
    gate = gates()
    got: list[object] = []
    run_off_gui_thread(lambda: gate.wait(WAIT_MS / 1000) and "kept", pool=pool,
                       on_result=got.append, on_error=pytest.fail)
    gc.collect()            # the relay must survive without a Python reference
    gate.set()
    qtbot.waitUntil(lambda: bool(got), timeout=WAIT_MS)
    assert got == ["kept"]


def test_many_requests_are_each_delivered_exactly_once(qtbot, pool) -> None:
    got: list[int] = []
    for i in range(40):
        run_off_gui_thread(lambda i=i: i * i, pool=pool, on_result=got.append, on_error=pytest.fail)
    gc.collect()
    assert pool.waitForDone(WAIT_MS)
    drain(qtbot)
    assert sorted(got) == [i * i for i in range(40)]


def test_must_be_called_on_the_gui_thread() -> None:
    caught: list[BaseException] = []

    def elsewhere() -> None:
        try:
            run_off_gui_thread(lambda: 1, pool=SynchronousPool(),
                               on_result=lambda _: None, on_error=lambda _: None)
        except RuntimeError as exc:
            caught.append(exc)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join(WAIT_MS / 1000)
    assert len(caught) == 1 and "GUI thread" in str(caught[0])


def test_default_pool_is_the_global_pool(qtbot) -> None:
    got: list[object] = []
    run_off_gui_thread(lambda: threading.get_ident(), on_result=got.append, on_error=pytest.fail)
    qtbot.waitUntil(lambda: bool(got), timeout=WAIT_MS)
    assert got[0] != threading.get_ident()
    QThreadPool.globalInstance().waitForDone(WAIT_MS)


def test_a_result_for_a_closed_widget_is_dropped_not_raised(qtbot, caplog) -> None:
    """The page that asked was deleted while the work ran (a window closed):
    its callback touches a dead Qt object; the runner drops the result."""
    import logging

    from PySide6.QtWidgets import QLabel

    label = QLabel()
    run_off_gui_thread(lambda: "late", on_result=label.setText,
                       on_error=lambda e: None, pool=SynchronousPool())
    from shiboken6 import Shiboken

    Shiboken.delete(label)                 # closed before the result arrives
    with caplog.at_level(logging.INFO, logger="wg_desktop.ui.jobs"):
        qtbot.wait(50)                     # the delivery, from the event loop
    assert any("dropped" in r.getMessage() for r in caplog.records)


def test_other_runtime_errors_of_a_callback_still_surface(qtbot) -> None:
    from wg_desktop.ui.jobs import is_deleted_object_error

    assert not is_deleted_object_error(RuntimeError("something else broke"))
    assert is_deleted_object_error(RuntimeError(
        "libshiboken: Internal C++ object (PySide6.QtWidgets.QLabel) already deleted."))
