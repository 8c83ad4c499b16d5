"""``atomtrain eval --per-structure``: the errors of each structure, checked against
errors computed from the labels of the data file with ASE; the predictions file
carries the labels beside the predictions, and the parity plot shows whole values."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch
import yaml

from atomtrain.cli.main import main
from atomtrain.composition.model import CompositionModel
from atomtrain.data.loading import load_datasets
from atomtrain.options import validate_options
from atomtrain.workflows.models import save_exported


@pytest.fixture
def composition_model(resources: Path, tmp_path: Path, monkeypatch) -> Path:
    """A composition model of ethanol energies (kcal/mol) exported in ``tmp_path``,
    with ``ethanol.xyz`` and ``eval.yaml`` (energy and forces) beside it: its forces
    are zero, so that each structure's force errors are those of zero forces."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(resources / "ethanol_reduced_100.xyz", "ethanol.xyz")
    section = {
        "systems": "ethanol.xyz",
        "targets": {"energy": {"unit": "kcal/mol", "forces": "on"}},
    }
    options = validate_options(
        {
            "architecture": {"name": "composition"},
            "training_set": {**section, "indices": list(range(20))},
            "validation_set": 0.0,
            "test_set": 0.0,
        },
        None,
        tmp_path,
    )
    dataset = load_datasets(options).training[0]
    model = CompositionModel({}, dataset.info).to(torch.float64)
    model.composition_baseline.fit([dataset])
    save_exported(model.export(), tmp_path / "model.pt", None, None)
    Path("eval.yaml").write_text(yaml.safe_dump({**section, "indices": [3, 1, 7]}))
    return tmp_path / "model.pt"


def test_errors_of_each_structure(composition_model: Path, capsys) -> None:
    command = ["eval", "model.pt", "eval.yaml", "-o", "predictions.xyz"]
    assert main([*command, "--per-structure", "errors.csv", "-b", "2"]) == 0
    assert "wrote the errors of each structure to errors.csv" in capsys.readouterr().out
    with open("errors.csv") as file:
        header, units, *rows = list(csv.reader(file))
    assert header == [
        "index",
        "frame",
        "num_atoms",
        "energy.error",
        "energy.error_per_atom",
        "energy.forces.rmse",
        "energy.forces.mae",
    ]
    assert units == [
        "",
        "",
        "",
        "kcal/mol",
        "kcal/mol/atom",
        "kcal/mol/angstrom",
        "kcal/mol/angstrom",
    ]
    assert [row[:3] for row in rows] == [
        ["0", "3", "9"],
        ["1", "1", "9"],
        ["2", "7", "9"],
    ]
    predicted = ase.io.read("predictions.xyz", ":")
    for row, index, frame in zip(rows, [3, 1, 7], predicted):
        labelled = ase.io.read("ethanol.xyz", index)
        error = frame.get_potential_energy() - labelled.get_potential_energy()
        assert float(row[3]) == pytest.approx(error, rel=1e-9)
        assert float(row[4]) == pytest.approx(error / 9, rel=1e-9)
        forces = labelled.get_forces()
        assert float(row[5]) == pytest.approx(np.sqrt(np.mean(forces**2)), rel=1e-9)
        assert float(row[6]) == pytest.approx(np.mean(np.abs(forces)), rel=1e-9)


def test_predictions_carry_the_labels(composition_model: Path) -> None:
    assert main(["eval", "model.pt", "eval.yaml", "-o", "predictions.xyz"]) == 0
    frames = ase.io.read("predictions.xyz", ":")
    for frame, index in zip(frames, [3, 1, 7]):
        labelled = ase.io.read("ethanol.xyz", index)
        assert frame.info["energy_label"] == pytest.approx(
            labelled.get_potential_energy()
        )
        np.testing.assert_allclose(frame.arrays["forces_label"], labelled.get_forces())
        np.testing.assert_allclose(frame.get_forces(), 0.0)


def test_parity_axes_show_whole_values(composition_model: Path, monkeypatch) -> None:
    """Per-atom energies near -1.08e4 kcal/mol/atom with a spread of a few tenths
    would read as an offset ("+ -1.078e4") with matplotlib's default ticks."""
    import matplotlib.pyplot as plt

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    assert main(["eval", "model.pt", "eval.yaml", "-p", "parity.png"]) == 0
    [figure] = figures
    figure.canvas.draw()
    for axes in figure.axes[: len(figure.axes) // 2]:  # the parity row
        for axis in (axes.xaxis, axes.yaxis):
            assert axis.get_offset_text().get_text() == ""
    energy = figure.axes[0]
    assert max(abs(t) for t in energy.get_xticks()) > 1e4
