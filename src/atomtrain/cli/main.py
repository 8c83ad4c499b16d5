"""The ``atomtrain`` entry point: argument parsing, dispatch and error reporting.

``atomtrain --help`` lists every subcommand from :data:`COMMANDS` without importing
any of them (and so without importing torch); a subcommand's module is imported only
when that subcommand is used, and it adds its own arguments then.

Errors: a :class:`~atomtrain.errors.UserError` prints ``error: <message>`` and exits
with 1 (with its traceback under ``--debug``); any other exception is a bug: its type
and message are printed with the path of a file holding the full traceback,
``atomtrain-error-<date>-<time>-<pid>.log`` in the system's temporary directory
(:func:`tempfile.gettempdir`), and the exit code is 1. Ctrl-C exits with 130; a
command that cleans up before it stops on a signal
(:class:`~atomtrain.errors.Interrupted`: training writes a checkpoint) prints where
its work is and exits with 128 + the signal (130 for SIGINT, 143 for SIGTERM).

When the reader of the standard output goes away (``atomtrain doc pet | head -1``),
atomtrain stops quietly with 141, as a Unix tool stopped by SIGPIPE does: no
traceback, nothing on the standard error.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import logging
import os
import sys
import tempfile
import traceback
from pathlib import Path
from types import ModuleType
from typing import List, Optional, Sequence

from .._version import __version__
from ..errors import Interrupted, UserError

#: Subcommands in the order ``--help`` lists them, with their one-line help. Each is
#: the module ``atomtrain.cli.<name>``; its ``HELP`` repeats the line given here.
COMMANDS = {
    "train": "train a model from an options file",
    "eval": "evaluate an exported model on datasets, reporting errors and predictions",
    "export": "export a checkpoint as a metatomic model for MD engines",
    "check": "check an options file and its datasets without training",
    "doc": "list the architectures, or print the documentation page of one",
    "convert": "convert structure files into an on-disk dataset for large data",
    "new-architecture": "write the files of a new architecture that passes the "
    "conformance suite",
    "schema": "write the JSON schema of the options file, for editors",
    "completion": "print a bash or zsh completion script for atomtrain",
}

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: 128 + SIGPIPE: what a shell reports for a tool whose output pipe was closed.
EXIT_BROKEN_PIPE = 141


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser; ``command``'s module (if any) adds its own arguments."""
    parser = argparse.ArgumentParser(
        prog="atomtrain",
        description="Train machine-learning models of atomistic systems from one "
        "YAML options file, and export them as metatomic models.",
    )
    parser.add_argument(
        "--version", action="version", version=f"atomtrain {__version__}"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="print the full traceback of every error",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_line in COMMANDS.items():
        subparser = subparsers.add_parser(name, help=help_line, description=help_line)
        if name == command:
            import_command(name).add_arguments(subparser)
    return parser


def import_command(name: str) -> ModuleType:
    """The module of subcommand ``name``."""
    return importlib.import_module(f"{__package__}.{name.replace('-', '_')}")


def _requested_command(argv: Sequence[str]) -> Optional[str]:
    """The subcommand named on the command line (the first non-option word)."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``atomtrain`` with ``argv`` (default: ``sys.argv[1:]``); the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _requested_command(argv)
    debug = "--debug" in argv[: argv.index(command)] if command else "--debug" in argv
    try:
        parser = build_parser(command)
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        module = import_command(args.command)
        _log_to_console()
        args.command_line = ["atomtrain", *argv]
        code = int(module.run(args))
        # a closed pipe shows here rather than in the interpreter's final flush
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _output_closed()
    except UserError as error:
        if debug:
            traceback.print_exc()
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except Interrupted as interrupted:
        print(interrupted, file=sys.stderr)
        return interrupted.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        return _report_bug(error, debug)


def _log_to_console() -> None:
    """Messages of atomtrain's loggers (epoch lines, summaries) go to the current
    standard output as plain lines, through one handler."""
    logger = logging.getLogger("atomtrain")
    for handler in logger.handlers:
        if getattr(handler, "_atomtrain_console", False):
            # not setStream: it flushes the previous stream, which may be closed
            # (an earlier main() under a captured standard output)
            handler.stream = sys.stdout  # type: ignore[attr-defined]
            break
    else:
        console = _ConsoleHandler(sys.stdout)
        console.setFormatter(logging.Formatter("%(message)s"))
        console._atomtrain_console = True  # type: ignore[attr-defined]
        logger.addHandler(console)
    logger.setLevel(logging.INFO)


class _ConsoleHandler(logging.StreamHandler):
    """A stream handler that lets a closed standard output stop the command (a
    plain one prints a "Logging error" traceback for each message instead)."""

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, BrokenPipeError):
            raise error
        super().handleError(record)


def _output_closed() -> int:
    """Point the standard output at the null device, so that Python's flush at exit
    does not report the closed pipe again; the exit code of a Unix tool stopped by
    SIGPIPE."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (AttributeError, OSError, ValueError):
        pass  # not a file descriptor (a captured output): nothing to flush at exit
    return EXIT_BROKEN_PIPE


def _report_bug(error: Exception, debug: bool) -> int:
    """Print a one-line cause and where the full traceback was written."""
    text = "".join(traceback.format_exception(error))
    if debug:
        print(text, file=sys.stderr, end="")
    cause = f"{type(error).__name__}: {error}".splitlines()[0]
    log = _write_traceback(text)
    where = (
        f"the full traceback is in {log}"
        if log is not None
        else "the traceback could not be written to a file; run again with --debug"
    )
    print(
        f"error: {cause}\nThis is a bug in atomtrain or in an architecture plugin; "
        f"{where}",
        file=sys.stderr,
    )
    return EXIT_ERROR


def _write_traceback(text: str) -> Optional[Path]:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(tempfile.gettempdir()) / f"atomtrain-error-{stamp}-{os.getpid()}.log"
    command_line: List[str] = ["atomtrain", *sys.argv[1:]]
    try:
        path.write_text(
            f"atomtrain {__version__}\ncommand: {' '.join(command_line)}\n\n{text}"
        )
    except OSError:
        return None
    return path
