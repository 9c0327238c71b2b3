"""The built-in demo portal: a local HTTP server that behaves like HubSpot's
OAuth, account and workflow APIs (see ``wg_desktop.demo.server``).

Import from ``wg_desktop.demo.server``; this package file stays light so that
importing ``wg_desktop.demo`` starts nothing.
"""
