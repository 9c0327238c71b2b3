from __future__ import annotations

import pytest

from tests.support.context import make_context
from wg_desktop.ui.jobs import SynchronousPool


@pytest.fixture
def ctx(data_dir):
    context = make_context(data_dir)
    yield context
    context.close()


@pytest.fixture
def window(qtbot, ctx):
    from wg_desktop.ui.app import create_main_window

    win = create_main_window(ctx, SynchronousPool())
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.quitting = True
    win.close()
