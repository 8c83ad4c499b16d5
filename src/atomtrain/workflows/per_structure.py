"""The errors of each structure of an evaluation, as ``atomtrain eval
--per-structure FILE`` writes them: a CSV file with a header row, a units row, then
one row per structure in the order of the dataset.

Columns: ``index`` (in the evaluated dataset), ``frame`` (the structure's index in
the file it was read from, when the dataset is given), ``num_atoms``, then for each
labelled target with one value per structure ``<target>.error`` (prediction -
label) and ``<target>.error_per_atom``, and for targets with forces
``<target>.forces.rmse`` and ``<target>.forces.mae`` over the force components of
the structure.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch
from metatensor.torch import TensorBlock

from ..data.dataset import Dataset
from ..files import atomic_output
from .evaluate import Evaluation

Row = Dict[str, float]


def per_structure_errors(
    evaluation: Evaluation, dataset: Optional[Dataset] = None
) -> Tuple[List[str], Dict[str, str], List[Row]]:
    """``(columns, units, rows)``: one row per structure, ordered by its index in
    the evaluated ``dataset``. Needs the evaluation's predictions
    (``keep_predictions``)."""
    columns = ["index", "num_atoms"] if dataset is None else ["index", "frame"]
    units = {column: "" for column in [*columns, "num_atoms"]}
    if dataset is not None:
        columns.append("num_atoms")
    rows: List[Row] = []
    for batch, predictions in zip(evaluation.batches, evaluation.predictions):
        for system in range(len(batch.systems)):
            index = int(batch.indices[system])
            row: Row = {"index": index}
            if dataset is not None:
                row["frame"] = dataset.origin(index)[1]
            row["num_atoms"] = len(batch.systems[system])
            for name, labels in batch.targets.items():
                if name not in predictions or len(labels) != 1:
                    continue
                label, predicted = labels.block(0), predictions[name].block(0)
                _add_errors(row, name, label, predicted, system)
            rows.append(row)
    for row in rows:
        for column in row:
            if column not in units:
                columns.append(column)
                units[column] = _unit(evaluation.units, column)
    return columns, units, sorted(rows, key=lambda row: row["index"])


def _add_errors(
    row: Row, name: str, label: TensorBlock, predicted: TensorBlock, system: int
) -> None:
    mine = torch.nonzero(label.samples.column("system") == system).reshape(-1)
    if "atom" not in label.samples.names and label.values.shape[1:].numel() == 1:
        error = float(
            (predicted.values[mine].sum() - label.values[mine].sum()).detach()
        )
        row[f"{name}.error"] = error
        row[f"{name}.error_per_atom"] = error / row["num_atoms"]
    if "positions" in label.gradients_list() and (
        "positions" in predicted.gradients_list()
    ):
        labelled = label.gradient("positions")
        rows = torch.isin(labelled.samples.column("sample"), mine)
        difference = predicted.gradient("positions").values[rows].to(
            torch.float64
        ) - labelled.values[rows].to(torch.float64)
        difference = difference.detach()
        row[f"{name}.forces.rmse"] = float(difference.pow(2).mean().sqrt())
        row[f"{name}.forces.mae"] = float(difference.abs().mean())


def _unit(metric_units: Dict[str, str], column: str) -> str:
    """The unit of ``column`` from the units of the evaluation's metrics
    (``energy.rmse`` is per atom for energies: the error of a structure is not)."""
    name, _, kind = column.rpartition(".")
    if kind == "error":
        return metric_units.get(f"{name}.rmse", "").removesuffix("/atom")
    if kind == "error_per_atom":
        unit = metric_units.get(f"{name}.rmse", "")
        return unit if unit.endswith("/atom") else f"{unit}/atom"
    return metric_units.get(column, "")


def write_per_structure_errors(
    evaluation: Evaluation, path: Path, dataset: Optional[Dataset] = None
) -> Path:
    """Write :func:`per_structure_errors` to the CSV file ``path``, atomically."""
    columns, units, rows = per_structure_errors(evaluation, dataset)
    with (
        atomic_output(path, "--per-structure") as temporary,
        open(temporary, "w", newline="") as file,
    ):
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerow([units[column] for column in columns])
        for row in rows:
            writer.writerow([_text(row.get(column)) for column in columns])
    return path


def _text(value: float | None) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else repr(float(value))
