"""How the ``samcore`` command reports errors: one line on stderr, exit code 2 for a usage
error (a value on the command line that cannot work), 1 for a failure, no traceback unless
``--debug``."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from samcore.errors import BackendError, SamcoreError
from samcore.extras import missing_extra, optional_module

USAGE, FAILURE = 2, 1


class UsageError(SamcoreError, ValueError):
    """A command-line value that cannot work: the option, what was expected, what came, the fix."""

    def __init__(self, option: str, expected: str, got: str, fix: str) -> None:
        super().__init__(f"{option}: expected {expected}, got {got}; fix: {fix}")


def usage_message(expected: str, got: str, fix: str) -> str:
    """The text of an ``argparse.ArgumentTypeError`` (argparse prefixes the option's name)."""
    return f"expected {expected}, got {got}; fix: {fix}"


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2); subcommand parsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        """Print ``<prog>: error: <message>`` on one line and exit 2."""
        if "fix:" not in message:
            message += f"; fix: see {self.prog} --help"
        self.exit(USAGE, f"{self.prog}: error: {one_line(message)}\n")


def one_line(text: str) -> str:
    """``text`` with its line breaks folded into spaces."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def describe(exc: BaseException) -> tuple[int, str]:
    """(exit code, one-line message) for an exception a subcommand raised."""
    if isinstance(exc, UsageError):
        return USAGE, str(exc)
    if isinstance(exc, BackendError):
        return FAILURE, f"{exc}; fix: choose one with --backend (see: samcore backends)"
    if isinstance(exc, SamcoreError):
        return FAILURE, str(exc)
    if isinstance(exc, ModuleNotFoundError) and optional_module(exc):
        return FAILURE, str(missing_extra("this command", exc))
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return FAILURE, f"{exc.strerror or exc}{where}; fix: check the path and its permissions"
    return FAILURE, f"unexpected {type(exc).__name__}: {exc}; fix: rerun with --debug and report the traceback"


def report(prog: str, exc: BaseException) -> int:
    """Print ``exc`` as one line after ``prog``; the exit code."""
    code, message = describe(exc)
    print(f"{prog}: error: {one_line(message)}", file=sys.stderr)
    return code
