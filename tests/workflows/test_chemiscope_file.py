"""``atomtrain eval -o``: the chemiscope file beside the predictions, loaded by
chemiscope itself, holds the structures, the predictions and the labels of the data
file, per structure and per atom, and opens on the energy parity map."""

from __future__ import annotations

import json
from pathlib import Path

import ase.io
import numpy as np
import pytest

from atomtrain.cli.main import main
from atomtrain.workflows import evaluate_files

chemiscope = pytest.importorskip(
    "chemiscope", reason="chemiscope is not installed (pip install chemiscope)"
)


def _load(path: Path) -> dict:
    """The input chemiscope's own loader reads from ``path``."""
    widget = chemiscope.show_input(str(path), cache_structures=False)
    return json.loads(widget.value)


def test_the_file_holds_structures_predictions_and_labels(
    composition_model: Path, capsys
) -> None:
    assert main(["eval", "model.pt", "eval.yaml", "-o", "predictions.xyz"]) == 0
    path = Path("predictions.chemiscope.json.gz")
    assert f"wrote a chemiscope file to {path}" in capsys.readouterr().out
    data = _load(path)
    labelled = [ase.io.read("ethanol.xyz", index) for index in (3, 1, 7)]
    predicted = ase.io.read("predictions.xyz", ":")

    assert [s["size"] for s in data["structures"]] == [9, 9, 9]
    assert data["structures"][1]["names"] == labelled[1].get_chemical_symbols()
    np.testing.assert_allclose(data["structures"][2]["x"], labelled[2].positions[:, 0])
    assert len(data["environments"]) == 27

    properties = data["properties"]
    energy_label = properties["energy_label"]
    assert energy_label["target"] == "structure"
    assert energy_label["units"] == "kcal/mol"
    np.testing.assert_allclose(
        energy_label["values"], [a.get_potential_energy() for a in labelled]
    )
    np.testing.assert_allclose(
        properties["energy"]["values"], [a.get_potential_energy() for a in predicted]
    )
    np.testing.assert_allclose(
        properties["energy_label_per_atom"]["values"],
        [a.get_potential_energy() / 9 for a in labelled],
    )
    assert properties["energy_per_atom"]["units"] == "kcal/mol/atom"
    errors = np.array(properties["energy.error_per_atom"]["values"])
    np.testing.assert_allclose(
        errors,
        np.array(properties["energy_per_atom"]["values"])
        - properties["energy_label_per_atom"]["values"],
    )
    assert properties["frame"]["values"] == [3, 1, 7]

    forces = np.concatenate([a.get_forces() for a in labelled])
    for axis in range(3):
        label = properties[f"forces_label[{axis + 1}]"]
        assert label["target"] == "atom"
        assert label["units"] == "kcal/mol/angstrom"
        np.testing.assert_allclose(label["values"], forces[:, axis])
        # the composition model's forces are zero
        np.testing.assert_allclose(properties[f"forces[{axis + 1}]"]["values"], 0.0)

    assert data["settings"]["map"]["x"] == {"property": "energy_label_per_atom"}
    assert data["settings"]["map"]["y"] == {"property": "energy_per_atom"}
    assert data["settings"]["map"]["color"] == {"property": "energy.error_per_atom"}
    assert data["meta"]["name"] == "ethanol.xyz"


def test_one_file_per_dataset(composition_model: Path) -> None:
    section = "{systems: ethanol.xyz, targets: {energy: {unit: kcal/mol}}"
    Path("two.yaml").write_text(
        f"test_set:\n- {section}, indices: [0]}}\n- {section}, indices: [4, 5]}}\n"
    )
    assert main(["eval", "model.pt", "two.yaml", "-o", "out.xyz"]) == 0
    first = _load(Path("out_0.chemiscope.json.gz"))
    second = _load(Path("out_1.chemiscope.json.gz"))
    assert len(first["structures"]) == 1 and len(second["structures"]) == 2
    labels = [ase.io.read("ethanol.xyz", i).get_potential_energy() for i in (4, 5)]
    np.testing.assert_allclose(second["properties"]["energy_label"]["values"], labels)


def test_no_file_without_chemiscope(composition_model: Path, monkeypatch) -> None:
    monkeypatch.setattr(evaluate_files, "chemiscope_installed", lambda: False)
    assert main(["eval", "model.pt", "eval.yaml", "-o", "predictions.xyz"]) == 0
    assert Path("predictions.xyz").exists()
    assert not Path("predictions.chemiscope.json.gz").exists()
