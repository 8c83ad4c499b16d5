"""A chemiscope file of an evaluation: the structures with the predictions and the
labels of each structure and of each atom, which opens as a parity view in chemiscope
(drop it on https://chemiscope.org, or ``chemiscope.show_input(path)`` in a notebook).

``atomtrain eval -o predictions.xyz`` writes ``predictions.chemiscope.json.gz`` beside
the predictions when the ``chemiscope`` package is installed (``pip install
chemiscope``). Its properties, with their units, are named as in the predictions
file: ``energy`` and ``energy_label`` per structure, ``forces`` and ``forces_label``
per atom (``forces[1]`` to ``forces[3]``: x, y, z), and so on for every target; each
energy also per atom (``energy_per_atom``, ``energy_label_per_atom``); and the errors
of each structure of ``--per-structure`` (``energy.error_per_atom``,
``energy.forces.rmse``, ...). The map opens on the labels (x) against the
predictions (y) of the first target with one value per structure, per atom for an
energy, coloured by its error.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import ase
import numpy as np

from ..data.dataset import Dataset
from ..files import atomic_output
from .evaluate import Evaluation
from .per_structure import per_structure_errors
from .predictions import LABEL_SUFFIX, gradient_key, prediction_frames, value_key

#: What the name of the chemiscope file ends with, in place of the predictions' suffix.
CHEMISCOPE_SUFFIX = ".chemiscope.json.gz"
#: What the per-atom values of an energy are named with.
PER_ATOM_SUFFIX = "_per_atom"

Properties = Dict[str, Dict[str, Any]]

#: What the columns of the errors of each structure hold, by their ending.
PER_STRUCTURE_COLUMNS = {
    "frame": "the index of the structure in the file it was read from",
    "num_atoms": "the number of atoms of the structure",
    ".error": "prediction - label",
    ".error_per_atom": "prediction - label, per atom",
    ".rmse": "root mean square error of the structure's components",
    ".mae": "mean absolute error of the structure's components",
}


def chemiscope_installed() -> bool:
    """Whether the ``chemiscope`` package can be imported (without importing it)."""
    return importlib.util.find_spec("chemiscope") is not None


def chemiscope_path(predictions: Path) -> Path:
    """The chemiscope file written beside the predictions file ``predictions``."""
    return predictions.with_name(predictions.stem + CHEMISCOPE_SUFFIX)


def _units(evaluation: Evaluation) -> Dict[str, str]:
    """The unit of every value a predictions frame may hold, by its key (labels
    excepted: they share the unit of the prediction)."""
    units: Dict[str, str] = {}
    length = evaluation.length_unit
    first = evaluation.predictions[0] if evaluation.predictions else {}
    for name, info in evaluation.targets.items():
        key = value_key(name)
        blocks = len(first[name]) if name in first else 1
        for block in range(blocks):
            units[key + ("" if blocks == 1 else f"_{block}")] = info.unit
        units[gradient_key(key, "forces")] = f"{info.unit}/{length}"
        units[gradient_key(key, "virial")] = info.unit
        units[gradient_key(key, "stress")] = f"{info.unit}/{length}^3"
    return units


def _property(
    target: str, values: np.ndarray, unit: str, description: str
) -> Dict[str, Any]:
    values = values.reshape(len(values), -1)
    return {
        "target": target,
        "values": values[:, 0] if values.shape[1] == 1 else values,
        "units": unit,
        "description": description,
    }


def _described(name: str) -> str:
    """What the value ``name`` of a predictions frame is."""
    if name.endswith(LABEL_SUFFIX):
        return f"{name.removesuffix(LABEL_SUFFIX)}: the label of the dataset"
    return f"{name}: the model's prediction"


def _frame_values(frames: List[ase.Atoms], units: Dict[str, str]) -> Properties:
    """The predictions and labels of ``frames`` (keys of ``units``, and their
    ``_label``), per structure or per atom, where every frame holds them."""
    properties: Properties = {}
    for key, unit in units.items():
        for name in (key, key + LABEL_SUFFIX):
            if all(name in frame.info for frame in frames):
                values = np.array(
                    [np.asarray(frame.info[name], dtype=np.float64) for frame in frames]
                )
                target = "structure"
            elif all(name in frame.arrays for frame in frames):
                values = np.concatenate([frame.arrays[name] for frame in frames])
                target = "atom"
            else:
                continue
            properties[name] = _property(target, values, unit, _described(name))
    return properties


def _error_described(column: str) -> str:
    """What the column ``column`` of the errors of each structure holds."""
    for ending, description in PER_STRUCTURE_COLUMNS.items():
        if column.endswith(ending):
            return f"{column}: {description}"
    return column


def chemiscope_properties(
    evaluation: Evaluation, frames: List[ase.Atoms], dataset: Optional[Dataset]
) -> Properties:
    """Every prediction and label of ``frames`` (:func:`prediction_frames` of
    ``evaluation``), per structure or per atom, the per-atom energies, and the
    errors of each structure, as chemiscope properties in the order of ``frames``."""
    properties = _frame_values(frames, _units(evaluation))
    atoms = np.array([len(frame) for frame in frames], dtype=np.float64)
    for name, info in evaluation.targets.items():
        key = value_key(name)
        for value in (key, key + LABEL_SUFFIX):
            if info.is_energy and properties.get(value, {}).get("target") == (
                "structure"
            ):
                values = properties[value]["values"]
                properties[value + PER_ATOM_SUFFIX] = _property(
                    "structure",
                    values / atoms.reshape(-1, *[1] * (values.ndim - 1)),
                    f"{info.unit}/atom",
                    _described(value) + ", per atom",
                )
    columns, units, rows = per_structure_errors(evaluation, dataset)
    for column in columns:
        if column != "index":
            values = np.array([row.get(column, np.nan) for row in rows])
            properties[column] = _property(
                "structure", values, units[column], _error_described(column)
            )
    return properties


def _parity_settings(evaluation: Evaluation, properties: Properties) -> Dict[str, Any]:
    """The map's axes: label (x) against prediction (y) of the first target with
    one labelled value per structure (per atom for energies), coloured by its
    error; nothing when no target has one."""
    for name, info in evaluation.targets.items():
        key = value_key(name)
        suffix, error = "", f"{name}.error"
        if info.is_energy:
            suffix, error = PER_ATOM_SUFFIX, f"{name}.error_per_atom"
        predicted, label = key + suffix, key + LABEL_SUFFIX + suffix
        if properties.get(label, {}).get("target") != "structure":
            continue
        map_settings: Dict[str, Any] = {
            "x": {"property": label},
            "y": {"property": predicted},
        }
        if error in properties:
            map_settings["color"] = {"property": error}
        return {"map": map_settings, "target": "structure"}
    return {}


def _settings(
    evaluation: Evaluation, properties: Properties, structures: List[ase.Atoms]
) -> Dict[str, Any]:
    """The parity map, and the cell drawn for periodic structures."""
    settings = _parity_settings(evaluation, properties)
    if structures and all(atoms.pbc.all() for atoms in structures):
        settings["structure"] = [{"unitCell": True}]
    return settings


def write_chemiscope(
    evaluation: Evaluation, path: Path, name: str, dataset: Optional[Dataset] = None
) -> Path:
    """Write the chemiscope file of ``evaluation`` (needs its predictions) to
    ``path`` (gzipped JSON), atomically; ``name`` is shown as the dataset's title."""
    import chemiscope

    frames = prediction_frames(evaluation)
    structures = [
        ase.Atoms(
            numbers=frame.numbers,
            positions=frame.positions,
            cell=frame.cell,
            pbc=frame.pbc,
        )
        for frame in frames
    ]
    properties = chemiscope_properties(evaluation, frames, dataset)
    per_atom = any(p["target"] == "atom" for p in properties.values())
    data = chemiscope.create_input(
        structures=structures,
        metadata={
            "name": name,
            "description": "predictions of an exported model beside the labels "
            "(<name>_label), written by atomtrain eval",
        },
        properties=properties,
        environments=(
            chemiscope.all_atomic_environments(structures) if per_atom else None
        ),
        settings=_settings(evaluation, properties, structures),
    )
    with atomic_output(path, "-o") as temporary, gzip.open(temporary, "wt") as file:
        json.dump(data, file)
    return path
