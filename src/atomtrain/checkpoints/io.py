"""Safe checkpoint files: plain data in, plain data out, atomic writes.

A checkpoint holds only dicts, lists, tuples, strings, numbers, booleans, ``None`` and
tensors. It is read with ``torch.load(weights_only=True)``, which refuses to rebuild any
other Python object, so a crafted file cannot run code when it is loaded.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict

import torch

from .._version import __version__
from ..errors import UserError
from ..files import atomic_output, write_binary

#: Value of the ``"format"`` entry at the top of every atomtrain checkpoint.
CHECKPOINT_FORMAT = "atomtrain-checkpoint"

_PLAIN_SCALARS = (str, int, float, bool, type(None))
_TENSOR_TYPES = (torch.Tensor, torch.nn.Parameter)


class CheckpointError(UserError):
    """A checkpoint file that cannot be read: missing, damaged, unsafe or foreign."""


def new_checkpoint(
    architecture_name: str, model_checkpoint_version: int
) -> Dict[str, Any]:
    """The common top-level entries of a checkpoint, before the ``"model"`` section."""
    return {
        "format": CHECKPOINT_FORMAT,
        "atomtrain_version": __version__,
        "architecture_name": architecture_name,
        "model_checkpoint_version": model_checkpoint_version,
    }


def check_plain_data(data: Any, key: str = "") -> None:
    """Raise a :class:`TypeError` naming the dotted key of the first entry of ``data``
    that is not plain data (dict with str/int keys, list, tuple, str, int, float,
    bool, None, tensor)."""
    # exact types: subclasses (numpy scalars, enums) would pickle as other objects
    if type(data) in _TENSOR_TYPES or type(data) in _PLAIN_SCALARS:
        return
    where = key or "<top level>"
    if type(data) in (dict, OrderedDict):
        for name, value in data.items():
            if type(name) not in (str, int):
                raise TypeError(
                    f"checkpoint entry '{where}' has a key {name!r} of type "
                    f"{type(name).__name__}; only str and int keys are allowed"
                )
            check_plain_data(value, f"{key}.{name}" if key else str(name))
        return
    if type(data) in (list, tuple):
        for index, value in enumerate(data):
            check_plain_data(value, f"{key}[{index}]")
        return
    raise TypeError(
        f"checkpoint entry '{where}' is a {type(data).__module__}."
        f"{type(data).__qualname__}, which is not plain data; store dicts, lists, "
        "tuples, str, int, float, bool, None or tensors (serialise objects with "
        "their to_dict() first)"
    )


def write_checkpoint_file(data: Dict[str, Any], path: str | Path) -> None:
    """Write ``data`` to ``path`` atomically.

    The tree is checked to be plain data first (see :func:`check_plain_data`). The
    file is written to a temporary file in the same directory, flushed to disk and
    renamed over ``path`` (:func:`atomtrain.files.atomic_output`): a crash or a full
    disk at any point leaves either the previous file or the new one, never a
    half-written checkpoint.
    """
    check_plain_data(data)
    with atomic_output(Path(path), "checkpoint") as temporary:
        write_binary(temporary, lambda file: torch.save(data, file))


def read_checkpoint_file(path: str | Path) -> Dict[str, Any]:
    """Read an atomtrain checkpoint safely, on the CPU.

    Raises :class:`CheckpointError` when the file is missing, damaged, holds code or
    Python objects (it is then not loaded at all), or is not an atomtrain checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    try:
        with warnings.catch_warnings():
            # raw pickles of other protocols are refused below with a clearer message
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            data = torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"checkpoint '{path}' contains code or Python objects and was not loaded: "
            "atomtrain checkpoints hold plain data only, and loading anything else "
            f"could run arbitrary code ({_first_line(error)})"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as error:
        raise CheckpointError(
            f"checkpoint '{path}' could not be read; the file is damaged or is not a "
            f"checkpoint ({_first_line(error)})"
        ) from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"'{path}' is not an atomtrain checkpoint (it has no "
            f"'format: {CHECKPOINT_FORMAT}' entry)"
        )
    return data


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
