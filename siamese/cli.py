"""The ``siamese`` command-line tool.

Each subcommand lives in a module of :mod:`siamese.commands` that exposes
``register(subparsers)``. This module only assembles them and turns expected errors into a
one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import difflib
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
    parser.set_defaults(command_parsers=subparsers.choices)
    return parser


def parse_arguments(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv``; unknown options are reported by the subcommand, with the nearest match.

    ``argparse`` itself names the top-level parser when a subcommand gets an unknown option,
    so its usage line would show the subcommands instead of the subcommand's options.
    """
    args, unknown = parser.parse_known_args(argv)
    if not unknown:
        return args

    command_parser = innermost_parser(args.command_parsers[args.command], args)
    known = [option for action in command_parser._actions for option in action.option_strings]
    words = []
    for argument in unknown:
        close = difflib.get_close_matches(argument.split("=")[0], known, n=1) if argument.startswith("-") else []
        words.append(f"{argument} (did you mean {close[0]}?)" if close else argument)
    command_parser.error(f"unrecognized arguments: {' '.join(words)}")


def innermost_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """Follow nested subcommands (such as ``gallery list``) down to the parser that ran last."""
    for action in parser._actions:
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict) and getattr(args, action.dest, None) in choices:
            return innermost_parser(choices[getattr(args, action.dest)], args)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parse_arguments(parser, argv)
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
