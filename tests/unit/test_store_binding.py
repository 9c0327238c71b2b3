"""Per-thread model binding: one set of models, the live store as the process
default, and any other open store bound for one thread at a time."""

from __future__ import annotations

import os
import threading

import pytest

from wg_desktop.store import models
from wg_desktop.store.db import open_store
from wg_desktop.store.models import Portal


@pytest.fixture
def two_stores(data_dir):
    live = open_store(data_dir / "live.db", os.urandom(32))
    other = open_store(data_dir / "other.db", os.urandom(32), as_default=False)
    with live.writing():
        Portal.create(hub_id=1, name="live portal")
    with other.writing():
        Portal.create(hub_id=2, name="other portal")
    yield live, other
    other.close()
    live.close()


def _names() -> list[str]:
    return [p.name for p in Portal.select().order_by(Portal.hub_id)]


def test_open_as_non_default_leaves_the_live_store_in_place(two_stores):
    live, other = two_stores
    assert models.database_proxy.default is live.db
    assert _names() == ["live portal"]
    with other.bound():
        assert _names() == ["other portal"]
    assert _names() == ["live portal"]


def test_two_threads_each_see_their_own_store_at_the_same_time(two_stores):
    live, other = two_stores
    # Both threads are inside their reads together: a binding that swapped the
    # process-wide target would show one thread the other's rows.
    inside = threading.Barrier(2, timeout=10)
    seen: dict[str, list[list[str]]] = {"live": [], "backup": []}
    errors: list[BaseException] = []

    def reader(label: str, store) -> None:
        try:
            with store.session():
                for _ in range(20):
                    inside.wait()
                    seen[label].append(_names())
        except BaseException as exc:   # noqa: BLE001 - reported below
            errors.append(exc)
            inside.abort()

    def unbound_reader() -> None:
        # No binding at all: the process default, while the other thread is bound.
        try:
            for _ in range(20):
                inside.wait()
                seen["live"].append(_names())
        except BaseException as exc:   # noqa: BLE001
            errors.append(exc)
            inside.abort()
        finally:
            if not live.db.is_closed():
                live.db.close()

    threads = [threading.Thread(target=unbound_reader),
               threading.Thread(target=reader, args=("backup", other))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not errors
    assert seen["live"] == [["live portal"]] * 20
    assert seen["backup"] == [["other portal"]] * 20
    assert models.database_proxy.default is live.db


def test_binding_is_undone_on_an_exception_and_nests(two_stores):
    live, other = two_stores
    with pytest.raises(RuntimeError):
        with other.bound():
            assert _names() == ["other portal"]
            raise RuntimeError("boom")
    assert models.database_proxy.obj is live.db
    with other.bound():
        with live.bound():
            assert _names() == ["live portal"]
        assert _names() == ["other portal"]
    assert _names() == ["live portal"]


def test_writing_targets_its_own_store_even_inside_another_binding(two_stores):
    live, other = two_stores
    with other.bound():
        with live.writing():
            Portal.create(hub_id=3, name="written to live")
        assert _names() == ["other portal"]
    assert _names() == ["live portal", "written to live"]


def test_other_threads_keep_the_default_while_one_is_bound(two_stores):
    live, other = two_stores
    seen = []

    def read() -> None:
        seen.append(_names())
        live.db.close()

    with other.bound():
        worker = threading.Thread(target=read)
        worker.start()
        worker.join(10)
    assert seen == [["live portal"]]
