"""Training on an on-disk dataset: convert once, train and evaluate from disk.

A dataset of millions of structures does not fit in memory as ASE frames. ``atomtrain
convert`` streams structure files into an on-disk dataset (a directory of flat binary
arrays and a ``header.json`` that describes the targets and their units), checking
every structure on the way; a dataset section then names the directory in
``read_from``, and training reads each structure from disk when a batch needs it,
with memory that does not grow with the number of structures. The run is the one
training from the original file would give.

Here the data are small (GFN2-xTB ethanol, ``examples/data/ethanol_gfn2_1000.xyz``,
eV and eV/Å), so that the tutorial runs in seconds; every command is the same for
10^8 structures.

Run it with ``python examples/tutorials/ondisk_dataset.py``; it works in
``tutorial-output/ondisk_dataset/`` (or in ``$ATOMTRAIN_TUTORIAL_OUTPUT``).
"""

import json
import os
from pathlib import Path

import ase.io
import numpy as np

from atomtrain.cli.main import main as atomtrain_main

DATA = Path(__file__).resolve().parents[1] / "data" / "ethanol_gfn2_1000.xyz"
OUTPUT = Path(
    os.environ.get("ATOMTRAIN_TUTORIAL_OUTPUT", "tutorial-output/ondisk_dataset")
)
OUTPUT.mkdir(parents=True, exist_ok=True)
os.chdir(OUTPUT)


def atomtrain(*arguments: str) -> None:
    """Run the ``atomtrain`` command line with ``arguments``; stop if it fails."""
    print("$ atomtrain", " ".join(arguments), flush=True)
    if atomtrain_main(list(arguments)) != 0:
        raise SystemExit(f"'atomtrain {arguments[0]}' failed")


# %%
# Converting
# ----------
#
# The first 900 frames are for training (and validation), the last 100 for testing.
# Each file is converted into its own dataset: the energy (eV) under the key
# ``energy`` and the forces under ``forces``. A structure with a NaN label or
# overlapping atoms would stop the conversion, naming its file and frame; an
# interrupted conversion leaves nothing behind.

frames = ase.io.read(DATA, index=":")
ase.io.write("train.xyz", frames[:900])
ase.io.write("test.xyz", frames[900:])
for name in ("train", "test"):
    atomtrain(
        "convert",
        f"{name}.xyz",
        f"{name}-dataset",
        "--energy",
        "energy",
        "--energy-unit",
        "eV",
        "--forces",
        "forces",
    )

header = json.loads(Path("train-dataset/header.json").read_text())
size = sum(p.stat().st_size for p in Path("train-dataset").rglob("*") if p.is_file())
print(
    f"{header['num_structures']} structures, {size / header['num_structures']:.0f} "
    "bytes each on disk; targets:",
    header["info"]["targets"],
)

# %%
# Training from disk
# ------------------
#
# The training set names the dataset alone: the target ``energy``, its unit and its
# forces come from the dataset's header. A tenth is drawn for validation, as from a
# file. ``num_workers`` would build batches in worker processes; on small molecules
# and a CPU, building a batch takes a few percent of a step, so the default (0)
# builds them between steps.

Path("options.yaml").write_text(
    """
architecture:
  name: soap_bpnn
  model:
    soap: {max_angular: 4, max_radial: 5}
  training:
    num_epochs: 8
    batch_size: 10
    learning_rate: 0.01
    loss:
      energy:
        forces: {weight: 10.0}
base_precision: 32
seed: 7
final_eval: false
training_set:
  systems: train-dataset
validation_set: 0.1
test_set: 0.0
"""
)
atomtrain("train", "options.yaml", "-o", "model.pt", "-e", "extensions")

# %%
# Evaluating on another dataset
# -----------------------------
#
# ``atomtrain eval`` takes the dataset directory in place of a YAML file. The parity
# plot compares predicted and reference energies and forces of the 100 test frames;
# the predictions, written as extended XYZ, are compared with the test file here.

atomtrain(
    "eval",
    "model.pt",
    "test-dataset",
    "-e",
    "extensions",
    "-o",
    "predictions.xyz",
    "--plot",
    "parity.png",
)
predicted = ase.io.read("predictions.xyz", index=":")
reference = ase.io.read("test.xyz", index=":")
force_errors = np.concatenate(
    [p.get_forces() - r.get_forces() for p, r in zip(predicted, reference)]
)
test = json.loads(Path("test-dataset/header.json").read_text())
summary = {
    "num_structures": [header["num_structures"], test["num_structures"]],
    "bytes_per_structure": size / header["num_structures"],
    "num_predictions": len(predicted),
    "force_mae_eV_per_angstrom": float(np.abs(force_errors).mean()),
    "mean_absolute_force": float(
        np.abs(np.concatenate([r.get_forces() for r in reference])).mean()
    ),
}
print(json.dumps(summary, indent=2))
Path("results.json").write_text(json.dumps(summary, indent=2))
