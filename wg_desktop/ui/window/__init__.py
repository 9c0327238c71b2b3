"""The main window's parts; ``ui/main_window.py`` is the coordinator."""
