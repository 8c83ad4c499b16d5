"""Errors caused by user input.

The command line prints these as a short message without a traceback (unless
``--debug``); every other exception is a bug and gets its traceback written to a file.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Iterable, List, Optional


class UserError(Exception):
    """An error in what the user gave: options, files, data or command-line flags."""


class Interrupted(Exception):
    """A command stopped by a signal after putting its work in a safe place (training
    writes a checkpoint first). The message says where; the command line exits with
    ``128 + signal``, as a shell reports a process the signal ended (130 for SIGINT,
    143 for SIGTERM)."""

    def __init__(self, message: str, signal_number: int) -> None:
        super().__init__(message)
        self.signal_number = signal_number

    @property
    def exit_code(self) -> int:
        return 128 + self.signal_number


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest candidate, or ``""``."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


_NO_VALUE = object()


@dataclass(frozen=True)
class Problem:
    """One problem in an options file, located by its dotted key path."""

    path: str
    message: str
    value: Any = _NO_VALUE

    def __str__(self) -> str:
        where = self.path or "<top level>"
        if self.value is _NO_VALUE:
            return f"{where}: {self.message}"
        return f"{where}: {self.message} (got {self.value!r})"


class OptionsError(UserError):
    """Every problem found in an options file, reported at once."""

    def __init__(self, problems: List[Problem], file: Optional[str] = None) -> None:
        self.problems = list(problems)
        self.file = file
        super().__init__(str(self))

    def __str__(self) -> str:
        source = f" in {self.file}" if self.file else ""
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the options{source}:"
        return "\n".join([head] + [f"  - {p}" for p in self.problems])


class DataError(UserError):
    """A problem in a data file, naming the file, the key and the structure index."""

    def __init__(
        self,
        message: str,
        file: Optional[str] = None,
        key: Optional[str] = None,
        structure: Optional[int] = None,
    ) -> None:
        self.file = file
        self.key = key
        self.structure = structure
        where = []
        if file is not None:
            where.append(f"file '{file}'")
        if structure is not None:
            where.append(f"structure {structure}")
        if key is not None:
            where.append(f"key '{key}'")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message)
