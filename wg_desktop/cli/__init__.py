"""The command-line face of the app: every job the window can do, scriptable.

``main.py`` builds the parser and runs a command; ``base.py`` holds what every
command shares (exit statuses, one-line errors, feature gates, the handler's
environment); each other module is one command group with ``register()``.
No Qt is imported anywhere here.
"""
