"""Reading an exported metatomic model, with an error a user can act on for any file
that is not one.

An exported model is a TorchScript archive: a zip file holding compiled ``code/``.
Before metatomic loads it, :func:`load_exported_model` looks at what the file is — a
missing path, a directory, a text file, other bytes, or a zip written by
``torch.save`` (an atomtrain checkpoint, a tensor, a state dict) — and says so. Of the
errors metatomic raises while loading, two are about the file and become user errors:
a TorchScript file that is not a metatomic model, and a model whose compiled
extensions (e.g. sphericart for SOAP-BPNN) are not loaded; anything else stays a bug.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any, Optional

import torch
from metatomic.torch import AtomisticModel, load_atomistic_model

from ..checkpoints import CHECKPOINT_FORMAT
from ..errors import UserError
from ..utils.extensions import register_installed_extensions

#: Part of the message metatomic's ``load_atomistic_model`` raises (a RuntimeError)
#: when the model uses a TorchScript extension that is not loaded.
MISSING_EXTENSIONS = "missing TorchScript extensions"
#: Part of the message of its ValueError for a TorchScript file without a model.
NOT_A_METATOMIC_MODEL = "does not contain a metatomic model"

#: How many bytes of a file are read to tell text from binary data.
SNIFF_BYTES = 4096

#: What an exported model is, for the errors about files that are not one.
EXPORTED_MODEL = (
    "an exported metatomic model (the TorchScript .pt file that 'atomtrain train' "
    "and 'atomtrain export' write)"
)


def load_exported_model(
    path: Path, extensions: Optional[Path] = None
) -> AtomisticModel:
    """The metatomic model at ``path``, with the compiled extensions of the directory
    ``extensions``; a :class:`UserError` naming the file and what it is otherwise."""
    _check_is_torchscript(path)
    if extensions is not None:
        # before any copy of a library is loaded from the folder (see the module
        # atomtrain.utils.extensions)
        register_installed_extensions(extensions)
    try:
        return load_atomistic_model(str(path), extensions_directory=extensions)
    except ValueError as error:
        if NOT_A_METATOMIC_MODEL not in str(error):
            raise
        raise UserError(
            f"'{path}' is not {EXPORTED_MODEL}: it is a TorchScript file without a "
            "metatomic model"
        ) from None
    except RuntimeError as error:
        if MISSING_EXTENSIONS not in str(error):
            raise
        raise UserError(_missing_extensions(path, extensions)) from None


def _missing_extensions(path: Path, extensions: Optional[Path]) -> str:
    if extensions is None:
        return (
            f"the model '{path}' needs compiled extensions that are not loaded; "
            "pass the directory they were collected into when the model was "
            "exported: 'atomtrain eval -e <dir>' (atomtrain train and export write "
            "them to extensions/)"
        )
    return (
        f"the model '{path}' needs compiled extensions that are not in '{extensions}' "
        "(given with -e); pass the directory that 'atomtrain train' or 'atomtrain "
        "export' wrote next to this model"
    )


def _check_is_torchscript(path: Path) -> None:
    if not path.exists():
        raise UserError(f"model file '{path}' does not exist")
    if not path.is_file():
        raise UserError(f"'{path}' is not {EXPORTED_MODEL}: it is a directory")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as file:
            head = file.read(SNIFF_BYTES)
        raise UserError(f"'{path}' is not {EXPORTED_MODEL}: {_describe_bytes(head)}")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    if not any("/code/" in name for name in names):
        raise UserError(f"'{path}' is not {EXPORTED_MODEL}: {_describe_saved(path)}")


def _describe_bytes(head: bytes) -> str:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return "it holds binary data that is not a TorchScript archive"
    return "it is a text file"


def _describe_saved(path: Path) -> str:
    """What a zip written by ``torch.save`` holds, read safely."""
    try:
        data: Any = torch.load(path, weights_only=True, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError):
        return "it is a zip archive but not a TorchScript model"
    if isinstance(data, dict) and data.get("format") == CHECKPOINT_FORMAT:
        return (
            "it is an atomtrain checkpoint; run 'atomtrain export "
            f"{path}' first and evaluate the exported .pt file"
        )
    kind = "a tensor" if isinstance(data, torch.Tensor) else f"a {type(data).__name__}"
    return f"it holds {kind} saved with torch.save, not a TorchScript model"
