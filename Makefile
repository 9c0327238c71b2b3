# A project-local virtualenv keeps the app and its tests off the system Python.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench system-deps clean wheel-check dist dist-check install-desktop uninstall-desktop

system-deps:
	@scripts/install-system-deps.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

run: system-deps $(STAMP)
	$(BIN)/wg-desktop

test: system-deps $(STAMP)
	$(BIN)/python -m pytest -q

bench: system-deps $(STAMP)
	$(BIN)/python -m benchmarks

# The wheel, installed into a clean virtualenv, runs (see packaging/README.md).
wheel-check: system-deps $(STAMP)
	packaging/wheel_check.sh $(BIN)/python $(PYTHON)

# The one-folder PyInstaller bundle, dist/wg-desktop/ (see packaging/README.md).
# PyInstaller goes into the project venv for this target only: the app and
# its tests never need it.
PYINSTALLER_VERSION ?= 6.22.3
dist: system-deps $(STAMP)
	$(BIN)/pip install -q 'pyinstaller==$(PYINSTALLER_VERSION)'
	$(BIN)/pyinstaller --noconfirm --clean --log-level WARN \
	  --distpath dist --workpath build/pyinstaller packaging/wg-desktop-linux.spec

# The bundle runs: its version, CLI commands, a demo-portal sync and the window
# painted offscreen with the sign-in view loaded (packaging/dist_check.sh).
DIST_EXE := dist/wg-desktop/wg-desktop
dist-check: dist
	packaging/dist_check.sh $(DIST_EXE) \
	  "$$($(BIN)/python -c 'from wg_desktop.constants import APP_VERSION; print(APP_VERSION)')"

# The launcher entry, AppStream metadata and icons in the user's XDG folders.
install-desktop: system-deps $(STAMP)
	packaging/desktop_files.sh install "$(abspath $(BIN))/wg-desktop-gui"

uninstall-desktop:
	packaging/desktop_files.sh uninstall

clean:
	rm -rf $(VENV) build dist *.egg-info
