"""Parity plots and error histograms with ``atomtrain eval``, and the predictions
read back with ASE.

After training, the first question is how good the model is on structures it never
saw. ``atomtrain eval MODEL DATA --plot parity.png`` answers with the errors of every
labelled target and a figure: predicted against reference values (the parity plot)
and the distribution of the errors. ``--output predictions.xyz`` writes the
predictions as an extended XYZ file that ASE reads, for any analysis of your own;
here, the force errors of each element.

The model is a small SOAP-BPNN trained on GFN2-xTB ethanol
(``examples/data/ethanol_gfn2_1000.xyz``, eV and eV/Å) for a few seconds.

Run it with ``python examples/tutorials/parity_plot.py``; it works in
``tutorial-output/parity_plot/`` (or in ``$ATOMTRAIN_TUTORIAL_OUTPUT``).
"""

import json
import os
from pathlib import Path

import ase.io
import matplotlib.pyplot as plt
import numpy as np

from atomtrain.cli.main import main as atomtrain_main

DATA = Path(__file__).resolve().parents[1] / "data" / "ethanol_gfn2_1000.xyz"
OUTPUT = Path(
    os.environ.get("ATOMTRAIN_TUTORIAL_OUTPUT", "tutorial-output/parity_plot")
)
OUTPUT.mkdir(parents=True, exist_ok=True)
os.chdir(OUTPUT)


def atomtrain(*arguments: str) -> None:
    """Run the ``atomtrain`` command line with ``arguments``; stop if it fails."""
    print("$ atomtrain", " ".join(arguments), flush=True)
    if atomtrain_main(list(arguments)) != 0:
        raise SystemExit(f"'atomtrain {arguments[0]}' failed")


# %%
# A model to evaluate
# -------------------
#
# Training, validation and test frames come from three separate stretches of the
# trajectory, so that the test frames are not neighbours in time of training ones.

frames = ase.io.read(DATA, index=":")
ase.io.write("train.xyz", frames[0:800:4])
ase.io.write("validation.xyz", frames[800:900:5])
ase.io.write("test.xyz", frames[900:1000:2])

Path("options.yaml").write_text(
    """
architecture:
  name: soap_bpnn
  model:
    soap: {max_angular: 4, max_radial: 5}
  training:
    num_epochs: 10
    batch_size: 5
    learning_rate: 0.01
    loss:
      energy:
        forces: {weight: 10.0}
base_precision: 32
seed: 7
final_eval: false
training_set:
  systems: train.xyz
  targets:
    energy: {unit: eV}
validation_set:
  systems: validation.xyz
  targets:
    energy: {unit: eV}
test_set: 0.0
"""
)
atomtrain("train", "options.yaml", "-o", "model.pt", "-e", "extensions")

# %%
# Evaluation
# ----------
#
# ``atomtrain eval`` reads the data to evaluate on from a YAML file in the grammar
# of a training set (a file name alone is enough for an ``energy`` in eV with
# ``forces``). It prints the errors of each target, writes the predictions and,
# with ``--plot``, the parity plots and error histograms of the energy and the
# forces.

Path("test.yaml").write_text(
    """
systems: test.xyz
targets:
  energy: {unit: eV}
"""
)
atomtrain(
    "eval",
    "model.pt",
    "test.yaml",
    "-e",
    "extensions",
    "-o",
    "predictions.xyz",
    "--plot",
    "parity.png",
)

# %%
# The predictions in ASE
# ----------------------
#
# ``predictions.xyz`` holds the test structures in their order, with the predicted
# energy and forces where ASE expects them: ``atoms.get_potential_energy()`` and
# ``atoms.get_forces()`` return the predictions. Next to the reference labels
# they give any error statistics; here the distribution of the errors of the force
# components on each element, which ``atomtrain eval`` does not report.

predicted = ase.io.read("predictions.xyz", index=":")
reference = ase.io.read("test.xyz", index=":")
symbols = np.concatenate([atoms.get_chemical_symbols() for atoms in reference])
force_errors = np.concatenate(
    [p.get_forces() - r.get_forces() for p, r in zip(predicted, reference)]
)
energy_errors = np.array(
    [
        (p.get_potential_energy() - r.get_potential_energy()) / len(r)
        for p, r in zip(predicted, reference)
    ]
)
elements = ["H", "C", "O"]
per_element = {e: np.abs(force_errors[symbols == e]).ravel() for e in elements}

figure, axis = plt.subplots(figsize=(5, 3.5))
axis.boxplot([per_element[e] for e in elements], showfliers=False)
axis.set_xticks(range(1, len(elements) + 1), elements)
axis.set_xlabel("element")
axis.set_ylabel("|force error| [eV/Å]")
axis.set_title("force errors on the test frames")
figure.tight_layout()
figure.savefig("force_errors.png", dpi=110)

summary = {
    "num_test_structures": len(predicted),
    "energy_mae_eV_per_atom": float(np.abs(energy_errors).mean()),
    "force_mae_eV_per_angstrom": float(np.abs(force_errors).mean()),
    "force_mae_by_element": {e: float(v.mean()) for e, v in per_element.items()},
    "mean_absolute_force": float(
        np.abs(np.concatenate([r.get_forces() for r in reference])).mean()
    ),
}
print(json.dumps(summary, indent=2))
Path("results.json").write_text(json.dumps(summary, indent=2))
