"""Composition root: parse the arguments, then open the window or run a command."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    # Every file this process creates is private to the user, whatever the caller's umask.
    os.umask(0o077)
    from wg_desktop.cli.main import build_parser, run_command

    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.command is None:
        # Qt is imported only when the window is wanted, so the CLI starts fast.
        from wg_desktop.ui.launch import run_gui

        return run_gui(args.data_dir, minimized=args.minimized)
    if args.minimized:
        # Accepting it silently would suggest a command can run in the tray.
        parser.error("--minimized only applies to the app window, not to a command")
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
