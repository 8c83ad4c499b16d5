"""Reading an exported metatomic model, and checking it against the dataset.

Every problem is a :class:`WrappedModelError` naming the file and what is missing:
a file that is not a metatomic model, a missing extension, a model without
``energy``, targets it cannot compute, elements outside its atomic types, units that
do not convert.
"""

from __future__ import annotations

import io
import json
import os
import site
import sys
import tempfile
import zipfile
from fnmatch import fnmatch
from typing import List, Optional

import torch
from ase.data import chemical_symbols
from metatomic.torch import AtomisticModel, load_atomistic_model, unit_conversion_factor

from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.errors import UserError
from atomtrain.utils.extensions import register_installed_extensions

OPTION = "architecture.model"

#: The target of the replay structures: labelled with the pretrained model's
#: energies, predicted by the wrapped model's ``energy`` without the correction.
REPLAY_TARGET = "energy/replay"


class WrappedModelError(UserError):
    """The exported model cannot be fine-tuned on this dataset."""


def read_archive(path: str) -> bytes:
    """The bytes of the model file ``path`` (``architecture.model.path``)."""
    if not os.path.isfile(path):
        raise WrappedModelError(f"{OPTION}.path: '{path}' does not exist")
    with open(path, "rb") as file:
        return file.read()


def load_archive(
    archive: bytes, source: str, extensions: Optional[str]
) -> AtomisticModel:
    """The metatomic model held by ``archive`` (the bytes of ``source``), with the
    extensions of the directory ``extensions`` loaded first."""
    if extensions is not None and not os.path.isdir(extensions):
        raise WrappedModelError(
            f"{OPTION}.extensions: '{extensions}' is not a directory"
        )
    if extensions is not None:
        # installed libraries first, never a copy beside them (utils.extensions)
        register_installed_extensions(extensions)
    # before metatomic loads them from ``extensions``: a library loaded from two
    # files registers its operations twice, which aborts the process
    register_extensions(archive)
    with tempfile.TemporaryDirectory() as directory:
        copy = os.path.join(directory, "model.pt")
        with open(copy, "wb") as file:
            file.write(archive)
        try:
            model = load_atomistic_model(copy, extensions_directory=extensions)
        except Exception as error:
            raise WrappedModelError(_load_problem(source, extensions, error)) from None
    return model


def register_extensions(archive: bytes) -> None:
    """Load the extensions ``archive`` lists through ``torch.ops.load_library``,
    from the Python environment where they are installed: metatomic loads them for
    the model without telling torch's Python side, and an export collects (and
    lists, for the engines that run it) only the libraries of
    ``torch.ops.loaded_libraries`` that are installed in the environment. Without
    this, the fine-tuned model would not say that it needs them."""
    with zipfile.ZipFile(io.BytesIO(archive)) as content:
        listed = [n for n in content.namelist() if n.endswith("/extra/extensions")]
        entries = json.loads(content.read(listed[0])) if listed else []
    loaded = {os.path.realpath(p) for p in torch.ops.loaded_libraries}
    prefixes = [*site.getsitepackages(), site.getusersitepackages(), sys.prefix]
    for entry in entries:
        for prefix in prefixes:
            library = os.path.realpath(os.path.join(prefix, entry["path"]))
            if os.path.isfile(library):
                if library not in loaded:
                    torch.ops.load_library(library)
                break


def _load_problem(source: str, extensions: Optional[str], error: Exception) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
    lowered = str(error).lower()
    if "extension" in lowered or "unknown builtin op" in lowered:
        where = f"in '{extensions}'" if extensions else f"(set {OPTION}.extensions)"
        return (
            f"{OPTION}.path: '{source}' needs a TorchScript extension that is not "
            f"loaded {where}: {text}"
        )
    return (
        f"{OPTION}.path: '{source}' is not a metatomic model (a TorchScript "
        f"AtomisticModel saved by metatomic's save()): {text}"
    )


def check_model(model: AtomisticModel, source: str, info: DatasetInfo) -> None:
    """Refuse a model without ``energy``, targets it does not compute, elements
    outside its atomic types and a length unit that does not convert to the
    dataset's, naming ``source``."""
    capabilities = model.capabilities()
    outputs = dict(capabilities.outputs)
    if "energy" not in outputs:
        raise WrappedModelError(
            f"{OPTION}.path: '{source}' has no 'energy' output (it computes "
            f"{_names(list(outputs))}); the metatomic architecture fine-tunes "
            "energy models"
        )
    missing = [n for n in info.targets if output_name(n) not in outputs]
    if missing:
        raise WrappedModelError(
            f"{OPTION}.path: '{source}' cannot compute the target(s) "
            f"{_names(missing)} of the dataset; it computes {_names(list(outputs))}"
        )
    known = set(int(t) for t in capabilities.atomic_types)
    outside = [t for t in info.atomic_types if t not in known]
    if outside:
        elements = ", ".join(f"{chemical_symbols[t]} ({t})" for t in outside)
        raise WrappedModelError(
            f"{OPTION}.path: '{source}' has no atomic type for {elements} of the "
            f"dataset; it knows {sorted(known)}"
        )
    try:
        unit_conversion_factor(info.length_unit, capabilities.length_unit)
    except Exception as error:
        raise WrappedModelError(
            f"{OPTION}.path: '{source}' works in {capabilities.length_unit!r}, which "
            f"does not convert to the dataset's length unit {info.length_unit!r}: "
            f"{str(error).splitlines()[0]}"
        ) from None


def output_name(target: str) -> str:
    """The wrapped model's output that predicts ``target``."""
    return "energy" if target == REPLAY_TARGET else target


def conversion_factor(model_unit: str, target: str, info: TargetInfo) -> float:
    """The factor from the wrapped model's ``model_unit`` to the unit of
    ``target``."""
    if model_unit == info.unit:
        return 1.0
    try:
        return float(unit_conversion_factor(model_unit, info.unit))
    except Exception as error:
        raise WrappedModelError(
            f"{OPTION}.path: the model's '{output_name(target)}' is in "
            f"{model_unit!r}, which does not convert to the unit {info.unit!r} of "
            f"the target '{target}': {str(error).splitlines()[0]}"
        ) from None


def select_trainable(module: torch.nn.Module, patterns: List[str]) -> int:
    """Freeze the parameters of ``module`` whose name matches none of ``patterns``
    (``architecture.model.trainable``); the number of trainable parameters."""
    names = [name for name, _ in module.named_parameters()]
    unused = [p for p in patterns if not any(fnmatch(n, p) for n in names)]
    if unused:
        raise WrappedModelError(
            f"{OPTION}.trainable: {_names(unused)} match(es) no parameter of the "
            f"model; its parameters are named like {_names(names[:6])}"
        )
    count = 0
    for name, parameter in module.named_parameters():
        trained = any(fnmatch(name, p) for p in patterns)
        parameter.requires_grad_(trained)
        count += parameter.numel() if trained else 0
    return count


def archive_tensor(archive: bytes) -> torch.Tensor:
    """``archive`` as a uint8 tensor (plain data in a checkpoint)."""
    return torch.frombuffer(bytearray(archive), dtype=torch.uint8).clone()


def tensor_archive(tensor: torch.Tensor) -> bytes:
    """The bytes of a tensor written by :func:`archive_tensor`."""
    return bytes(tensor.to(torch.uint8).cpu().numpy().tobytes())


def _names(names: List[str]) -> str:
    return ", ".join(f"'{n}'" for n in names) if names else "nothing"
