"""A learning curve: test errors against the number of training structures.

How much data does a model need? Train the same architecture on growing subsets of
the data, evaluate each model on the same held-out test structures, and plot the
errors against the training-set size on logarithmic axes: a good model's errors
fall as a power law. The curve tells whether more data would still help.

Each model is a small SOAP-BPNN trained on 25, 50, 100 and 200 frames of
GFN2-xTB ethanol (``examples/data/ethanol_gfn2_1000.xyz``) for at least the same
number of optimiser steps, so that the smaller sets are not simply under-trained,
and at least 15 epochs, so that the larger ones are not either. The command
line's ``-r`` overrides change the training file and the number of epochs of one
options file.

Run it with ``python examples/tutorials/learning_curve.py``; it works in
``tutorial-output/learning_curve/`` (or in ``$ATOMTRAIN_TUTORIAL_OUTPUT``).
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
    os.environ.get("ATOMTRAIN_TUTORIAL_OUTPUT", "tutorial-output/learning_curve")
)
OUTPUT.mkdir(parents=True, exist_ok=True)
os.chdir(OUTPUT)


def atomtrain(*arguments: str) -> None:
    """Run the ``atomtrain`` command line with ``arguments``; stop if it fails."""
    print("$ atomtrain", " ".join(arguments), flush=True)
    if atomtrain_main(list(arguments)) != 0:
        raise SystemExit(f"'atomtrain {arguments[0]}' failed")


# %%
# Training subsets and a fixed test set
# -------------------------------------
#
# The training subsets are spread evenly over the first 800 frames; the 50 test
# frames come from the end of the trajectory and are the same for every model.

SIZES = [25, 50, 100, 200]
STEPS = 400
MIN_EPOCHS = 15
BATCH_SIZE = 5
frames = ase.io.read(DATA, index=":")
for size in SIZES:
    ase.io.write(f"train_{size}.xyz", frames[0:800:4][: 200 : 200 // size])
ase.io.write("validation.xyz", frames[800:900:5])
ase.io.write("test.xyz", frames[900:1000:2])
Path("test.yaml").write_text("systems: test.xyz\ntargets:\n  energy: {unit: eV}\n")

Path("options.yaml").write_text(
    f"""
architecture:
  name: soap_bpnn
  model:
    soap: {{max_angular: 4, max_radial: 5}}
  training:
    batch_size: {BATCH_SIZE}
    learning_rate: 0.01
    loss:
      energy:
        forces: {{weight: 10.0}}
base_precision: 32
seed: 11
final_eval: false
training_set:
  systems: train_25.xyz
  targets:
    energy: {{unit: eV}}
validation_set:
  systems: validation.xyz
  targets:
    energy: {{unit: eV}}
test_set: 0.0
"""
)

# %%
# One model per size
# ------------------
#
# The number of epochs is chosen so that every model sees at least ``STEPS``
# batches and ``MIN_EPOCHS`` passes over its training structures. Each
# model is evaluated on the test frames; its predictions, read back with ASE, give
# the mean absolute errors of the forces and of the energy per atom.

reference = ase.io.read("test.xyz", index=":")
reference_forces = np.concatenate([atoms.get_forces() for atoms in reference])
force_mae, energy_mae = [], []
for size in SIZES:
    epochs = max(STEPS * BATCH_SIZE // size, MIN_EPOCHS)
    atomtrain(
        "train",
        "options.yaml",
        "-r",
        f"training_set.systems=train_{size}.xyz",
        "-r",
        f"architecture.training.num_epochs={epochs}",
        "-o",
        f"model_{size}.pt",
        "-e",
        "extensions",
    )
    atomtrain(
        "eval",
        f"model_{size}.pt",
        "test.yaml",
        "-e",
        "extensions",
        "-o",
        f"predictions_{size}.xyz",
    )
    predicted = ase.io.read(f"predictions_{size}.xyz", index=":")
    forces = np.concatenate([atoms.get_forces() for atoms in predicted])
    force_mae.append(float(np.abs(forces - reference_forces).mean()))
    energy_mae.append(
        float(
            np.mean(
                [
                    abs(p.get_potential_energy() - r.get_potential_energy()) / len(r)
                    for p, r in zip(predicted, reference)
                ]
            )
        )
    )

# %%
# The curve
# ---------
#
# On logarithmic axes a power law ``MAE ∝ N^(-a)`` is a straight line; the slope of
# a fit through the points estimates ``a``.

slope = float(np.polyfit(np.log(SIZES), np.log(force_mae), 1)[0])
figure, axis = plt.subplots(figsize=(5, 3.8))
axis.loglog(SIZES, force_mae, "o-", label=f"forces (slope {slope:.2f})")
axis.set_xticks(SIZES, [str(size) for size in SIZES])
axis.set_xticks([], minor=True)
axis.set_xlabel("training structures")
axis.set_ylabel("test force MAE [eV/Å]")
axis.set_title("SOAP-BPNN on GFN2-xTB ethanol")
axis.legend()
figure.tight_layout()
figure.savefig("learning_curve.png", dpi=110)

summary = {
    "sizes": SIZES,
    "force_mae_eV_per_angstrom": force_mae,
    "energy_mae_eV_per_atom": energy_mae,
    "log_log_slope": slope,
}
print(json.dumps(summary, indent=2))
Path("results.json").write_text(json.dumps(summary, indent=2))
