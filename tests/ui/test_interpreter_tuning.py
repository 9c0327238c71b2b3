"""The interpreter tuning run_gui applies after the first paint (ui/app.py)."""

from __future__ import annotations

import gc
import sys

from wg_desktop.ui.app import GUI_SWITCH_INTERVAL_S, tune_interpreter


def test_the_gui_gets_the_gil_back_sooner_and_collections_are_rarer():
    switch, thresholds = sys.getswitchinterval(), gc.get_threshold()
    try:
        sys.setswitchinterval(0.005)
        gc.set_threshold(700, 10, 10)
        tune_interpreter()
        assert sys.getswitchinterval() == GUI_SWITCH_INTERVAL_S < 0.005
        assert gc.get_threshold() == (5_000, 10, 10)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        sys.setswitchinterval(switch)
        gc.set_threshold(*thresholds)
