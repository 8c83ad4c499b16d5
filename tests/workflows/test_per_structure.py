"""``atomtrain eval --per-structure``: the errors of each structure, checked against
errors computed from the labels of the data file with ASE; the predictions file
carries the labels beside the predictions, and the parity plot shows whole values."""

from __future__ import annotations

import csv
from pathlib import Path

import ase.io
import numpy as np
import pytest

from atomtrain.cli.main import main


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
