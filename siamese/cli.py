"""The ``siamese`` command-line tool.

Each subcommand lives in a module of :mod:`siamese.commands` that exposes
``register(subparsers)``. This module only assembles them and turns expected errors into a
one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from siamese import __version__

COMMAND_MODULES = (
    "siamese.commands.train",
    "siamese.commands.compare",
    "siamese.commands.faces",
    "siamese.commands.download",
)

# Errors that bad input raises on purpose; anything else is a bug and keeps its traceback.
USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError, ConnectionError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="siamese",
        description="Face detection and one-shot face recognition with Siamese networks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging details")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except USER_ERRORS as error:
        print(f"siamese {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"siamese {args.command}: interrupted", file=sys.stderr)
        return 130
