"""What a checkpoint holds, checked: stored tensors against the model they rebuild.

A checkpoint that reads fine may still hold a damaged or edited content: a version
that no atomtrain ever wrote, hypers a model cannot take, a tensor missing, left over
or of another shape than the model built from its hypers. Such faults raise
:class:`CheckpointContentError`, naming the checkpoint's entry (``model.state_dict``,
...); the code that knows the file wraps the loading in :func:`in_checkpoint`, which
names the file too. Checking the stored weights before ``load_state_dict`` turns
torch's "Error(s) in loading state_dict" into a message listing the tensors.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator, List, Mapping, Optional

import torch

from .io import CheckpointError

#: How many tensors of each kind (missing, unexpected, reshaped) a message lists.
LISTED_TENSORS = 5


class CheckpointContentError(CheckpointError):
    """A checkpoint read from its file whose content this atomtrain cannot use:
    damaged, edited, or written by a newer atomtrain."""

    def in_file(self, path: str | os.PathLike[str]) -> CheckpointContentError:
        """The same error, naming the checkpoint file."""
        return type(self)(f"checkpoint '{path}': {self}")


@contextlib.contextmanager
def in_checkpoint(path: Optional[str | os.PathLike[str]]) -> Iterator[None]:
    """Within the block, a :class:`CheckpointContentError` names the file ``path``
    (no change when ``path`` is None)."""
    try:
        yield
    except CheckpointContentError as error:
        if path is None:
            raise
        raise error.in_file(path) from None


def _listed(names: List[str]) -> str:
    shown = ", ".join(f"'{name}'" for name in names[:LISTED_TENSORS])
    more = len(names) - LISTED_TENSORS
    return shown + (f" and {more} more" if more > 0 else "")


def weight_problems(
    expected: Mapping[str, torch.Tensor],
    stored: Mapping[str, Any],
    partial: bool = False,
) -> List[str]:
    """How the ``stored`` tensors differ from the ``expected`` ones (a model's
    ``state_dict()``): missing (unless ``partial``), unexpected, not a tensor, or of
    another shape. Empty when they fit."""
    problems = []
    missing = [name for name in expected if name not in stored]
    if missing and not partial:
        problems.append(f"missing tensor{'s' * (len(missing) > 1)} {_listed(missing)}")
    unexpected = [name for name in stored if name not in expected]
    if unexpected:
        problems.append(
            f"unexpected tensor{'s' * (len(unexpected) > 1)} {_listed(unexpected)} "
            "(the model has no such tensor)"
        )
    for name, value in stored.items():
        if name not in expected:
            continue
        if not isinstance(value, torch.Tensor):
            problems.append(f"'{name}' is a {type(value).__name__}, not a tensor")
        elif value.shape != expected[name].shape:
            problems.append(
                f"'{name}' has shape {list(value.shape)} where the model has "
                f"{list(expected[name].shape)}"
            )
    return problems


def check_weights(
    expected: Mapping[str, torch.Tensor],
    stored: Any,
    entry: str,
    partial: bool = False,
) -> None:
    """Raise a :class:`CheckpointContentError` naming ``entry`` (the dotted key of
    ``stored`` in the checkpoint) if ``stored`` does not fit ``expected`` (see
    :func:`weight_problems`)."""
    if not isinstance(stored, Mapping):
        raise CheckpointContentError(
            f"its entry '{entry}' is a {type(stored).__name__}, not a mapping of "
            "tensors; the file is damaged"
        )
    problems = weight_problems(expected, stored, partial)
    if problems:
        raise CheckpointContentError(
            f"the tensors of its entry '{entry}' do not fit the model built from its "
            f"hypers (the file is damaged or was edited): {'; '.join(problems)}"
        )


def load_weights(module: torch.nn.Module, stored: Any, entry: str) -> None:
    """``module.load_state_dict(stored)`` after :func:`check_weights`."""
    check_weights(module.state_dict(), stored, entry)
    module.load_state_dict(stored)
