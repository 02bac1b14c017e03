"""The ``siamese`` command-line tool.

Each subcommand lives in a module of :mod:`siamese.commands` that exposes
``register(subparsers)``. This module only assembles them and turns expected errors into a
one-line message and exit status 2. Unexpected errors print their traceback and also exit with
status 2, because ``siamese verify`` reserves status 1 for "different people".
"""

from __future__ import annotations

import argparse
import difflib
import functools
import importlib
import logging
import os
import sys
import traceback

from siamese import __version__
from siamese.files import WriteFailedError

COMMAND_MODULES = (
    "siamese.commands.train",
    "siamese.commands.compare",
    "siamese.commands.faces",
    "siamese.commands.download",
)

#: FFmpeg's AV_LOG_QUIET. OpenCV reads OPENCV_FFMPEG_LOGLEVEL once, when its FFmpeg backend
#: first opens a file (cap_ffmpeg_impl.hpp, OpenCV 4.x and 5.1).
FFMPEG_QUIET = "-8"

#: Exit status of every failed command, for bad input and for bugs alike. Python's own status
#: for an uncaught exception, 1, would read as the verdict "different people" of `siamese verify`.
ERROR_STATUS = 2

# Errors that bad input raises on purpose; anything else is a bug and keeps its traceback.
# WriteFailedError is a read-only, full or over-quota disk under an output path.
USER_ERRORS = (
    ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError, PermissionError, ConnectionError,
    WriteFailedError,
)


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
    """Parse ``argv``; errors name the subcommand and suggest the options the user meant.

    ``argparse`` itself names the top-level parser when a subcommand gets an unknown option,
    so its usage line would show the subcommands instead of the subcommand's options. Its
    "required" error also gives no hint when ``--galery`` was typed for ``--gallery``. Every
    parser's errors therefore end with hints about the options in ``argv`` that it does not
    define (see :func:`option_hints`).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    for subparser in all_parsers(parser):
        subparser.error = functools.partial(_error_with_hints, subparser, parser, argv)

    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # An unknown option before the subcommand's name belongs to `siamese` itself.
        owner = innermost_parser(args.command_parsers[args.command], args)
        if unknown[0] in argv and argv.index(unknown[0]) < argv.index(args.command):
            owner = parser
        owner.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def _error_with_hints(parser, top: argparse.ArgumentParser, argv: list[str], message: str):
    hints = option_hints(parser, top, argv)
    argparse.ArgumentParser.error(parser, " ".join([message.rstrip(".") + ".", *hints]) if hints else message)


def option_hints(parser: argparse.ArgumentParser, top: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Return a hint for each option in ``argv`` that ``parser`` does not define.

    A top-level option given after the subcommand gets a hint to move it. Any other undefined
    option gets the nearest option of ``parser``, when one is close. Values such as ``-1`` are
    skipped.
    """
    known = [option for action in parser._actions for option in action.option_strings]
    global_options = {option for action in top._actions for option in action.option_strings} - set(known)
    # Compare the names without their dashes, so that "--" alone does not make two alike.
    names = {name.lstrip("-"): name for name in known}

    hints = []
    for token in argv:
        option = token.split("=")[0]
        if not option.startswith("-") or option == "--" or _is_number(option):
            continue
        if option in known or any(name.startswith(option) for name in known if option.startswith("--")):
            continue  # a defined option, or an abbreviation of one, which argparse accepts
        if parser is not top and option in global_options:
            hints.append(f"{option} is an option of `siamese` itself: put it before the subcommand.")
            continue
        close = difflib.get_close_matches(option.lstrip("-"), list(names), n=1, cutoff=0.7)
        if close:
            hints.append(f"Did you mean {names[close[0]]} instead of {option}?")
    return hints


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Return ``parser`` and every subcommand parser below it."""
    found = [parser]
    for action in parser._actions:
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict):
            for child in choices.values():
                if isinstance(child, argparse.ArgumentParser) and child not in found:
                    found.extend(all_parsers(child))
    return found


def innermost_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """Follow nested subcommands (such as ``gallery list``) down to the parser that ran last."""
    for action in parser._actions:
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict) and getattr(args, action.dest, None) in choices:
            return innermost_parser(choices[getattr(args, action.dest)], args)
    return parser


def quiet_library_logs(verbose: bool) -> None:
    """Hide OpenCV's warnings and FFmpeg's messages, unless ``verbose`` or the user set their levels.

    Without this, a missing camera prints OpenCV's "can't open camera by index" and a corrupt
    .mp4 prints FFmpeg's "moov atom not found" before the command's own error, which reports the
    same failure and names the fix. OpenCV's own errors stay visible. ``siamese -v`` keeps the library
    defaults, and ``OPENCV_LOG_LEVEL`` or ``OPENCV_FFMPEG_LOGLEVEL`` set in the environment win.
    """
    if verbose:
        return
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", FFMPEG_QUIET)
    if "OPENCV_LOG_LEVEL" in os.environ:
        return
    if "cv2" in sys.modules:
        # OpenCV 5.1 reads OPENCV_LOG_LEVEL only when cv2 is imported, so set the level directly.
        cv2 = sys.modules["cv2"]
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    else:
        os.environ["OPENCV_LOG_LEVEL"] = "ERROR"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parse_arguments(parser, argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    quiet_library_logs(args.verbose)
    command = innermost_parser(parser, args).prog  # such as "siamese gallery rename"
    try:
        return int(args.handler(args) or 0)
    except USER_ERRORS as error:
        print(f"{command}: error: {error}", file=sys.stderr)
        return ERROR_STATUS
    except KeyboardInterrupt:
        print(interrupted_message(command, args), file=sys.stderr)
        return 130
    except Exception as error:
        traceback.print_exc()
        print(f"{command}: internal error: {type(error).__name__}: {error}. This is a bug in siamese; "
              f"please report it with the traceback above.", file=sys.stderr)
        return ERROR_STATUS


def interrupted_message(command: str, args: argparse.Namespace) -> str:
    """Return ``COMMAND: interrupted``, with the subcommand's note on what it kept and how to resume.

    A subcommand that resumes sets ``interrupt_note`` (a function of the parsed arguments)
    among its parser's defaults.
    """
    note = getattr(args, "interrupt_note", None)
    if note is None:
        return f"{command}: interrupted"
    return f"{command}: interrupted. {note(args)}"
