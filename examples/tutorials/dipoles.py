"""Dipoles and quadrupoles: vector and tensor targets learned exactly equivariant.

A dipole moment turns with the molecule: rotate the structure and the vector rotates
with it. SOAP-BPNN learns such targets as invariant weights of equivariant basis
vectors, so its predictions rotate exactly, without augmentation. This tutorial
trains one model of two targets of GFN2-xTB ethanol
(``examples/data/ethanol_gfn2_dipoles_1000.xyz``):

- the dipole as a **spherical** target (``o3_lambda: 1``, components ``(y, z, x)``
  in the file, key ``dipole_spherical``);
- the traceless quadrupole as a **Cartesian** rank-2 target (nine numbers in the
  file, key ``quadrupole``), which SOAP-BPNN learns through its spherical parts.

Then it evaluates the model on held-out frames with ``atomtrain eval``, draws a
parity plot per dipole component, and checks the equivariance of the exported
model in ASE: the prediction for a rotated molecule is the rotated prediction.

The two targets show what a model of atomic contributions can and cannot do. The
dipole of a neutral molecule is a sum of local contributions (bond dipoles), and the
model learns it to a few percent of its spread from 200 frames. The quadrupole about
the centre of mass also depends on where each atom sits relative to that centre,
which no atom's environment holds: the model learns it only in part (about a third
of its spread remains).

Run it with ``python examples/tutorials/dipoles.py``; it works in
``tutorial-output/dipoles/`` (or in ``$ATOMTRAIN_TUTORIAL_OUTPUT``).
"""

import json
import os
from pathlib import Path

import ase.io
import matplotlib.pyplot as plt
import numpy as np
from metatomic.torch import ModelOutput
from metatomic_ase import MetatomicCalculator
from scipy.spatial.transform import Rotation

from atomtrain.cli.main import main as atomtrain_main

DATA = Path(__file__).resolve().parents[1] / "data" / "ethanol_gfn2_dipoles_1000.xyz"
OUTPUT = Path(os.environ.get("ATOMTRAIN_TUTORIAL_OUTPUT", "tutorial-output/dipoles"))
OUTPUT.mkdir(parents=True, exist_ok=True)
os.chdir(OUTPUT)


def atomtrain(*arguments: str) -> None:
    """Run the ``atomtrain`` command line with ``arguments``; stop if it fails."""
    print("$ atomtrain", " ".join(arguments), flush=True)
    if atomtrain_main(list(arguments)) != 0:
        raise SystemExit(f"'atomtrain {arguments[0]}' failed")


# %%
# The data and the options
# ------------------------
#
# Training, validation and test frames come from three separate stretches of the
# trajectory. Each target names its key in the file, its unit and its type.

frames = ase.io.read(DATA, index=":")
ase.io.write("train.xyz", frames[0:800:4])
ase.io.write("validation.xyz", frames[800:900:5])
ase.io.write("test.xyz", frames[900:1000:2])

TARGETS = """
    mtt::dipole:
      key: dipole_spherical
      unit: e*angstrom
      type:
        spherical:
          irreps:
            - {o3_lambda: 1, o3_sigma: 1}
    mtt::quadrupole:
      key: quadrupole
      unit: e*angstrom^2
      type:
        cartesian: {rank: 2}
"""
Path("options.yaml").write_text(
    f"""
architecture:
  name: soap_bpnn
  model:
    soap: {{max_angular: 3, max_radial: 4}}
  training:
    num_epochs: 20
    batch_size: 10
seed: 3
final_eval: false
training_set:
  systems: train.xyz
  targets:{TARGETS}
validation_set:
  systems: validation.xyz
  targets:{TARGETS}
test_set: 0.0
"""
)
atomtrain("train", "options.yaml", "-o", "model.pt", "-e", "extensions")

# %%
# Evaluation
# ----------
#
# ``atomtrain eval`` reads the test frames with the same target sections, prints the
# errors of each target and writes the predictions beside the labels
# (``mtt_dipole`` and ``mtt_dipole_label`` in ``predictions.xyz``).

Path("test.yaml").write_text(f"systems: test.xyz\ntargets:{TARGETS}")
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
# A parity plot per component
# ---------------------------
#
# The spherical components ``o3_mu = -1, 0, 1`` of a λ = 1 target are the Cartesian
# ``y``, ``z`` and ``x``.

predicted = ase.io.read("predictions.xyz", index=":")
prediction = np.array([atoms.info["mtt_dipole"] for atoms in predicted])
label = np.array([atoms.info["mtt_dipole_label"] for atoms in predicted])
figure, axes = plt.subplots(1, 3, figsize=(10, 3.4))
component_mae = {}
for mu, (axis, name) in enumerate(zip(axes, ("y", "z", "x"))):
    mae = float(np.abs(prediction[:, mu] - label[:, mu]).mean())
    component_mae[name] = mae
    axis.scatter(label[:, mu], prediction[:, mu], s=8)
    low, high = label[:, mu].min(), label[:, mu].max()
    axis.plot([low, high], [low, high], color="gray", linewidth=1)
    axis.set_title(f"dipole {name} (o3_mu = {mu - 1}): MAE {1000 * mae:.1f} me·Å")
    axis.set_xlabel("GFN2-xTB [e·Å]")
axes[0].set_ylabel("SOAP-BPNN [e·Å]")
figure.tight_layout()
figure.savefig("dipole_components.png", dpi=110)

# %%
# Equivariance of the exported model
# ----------------------------------
#
# The exported model runs in ASE like any metatomic model; ``run_model`` returns
# any of its outputs. Rotating a test molecule rotates its predicted dipole (in
# ``(y, z, x)`` order) and quadrupole (``R Q Rᵀ``) to rounding.

calculator = MetatomicCalculator("model.pt", extensions_directory="extensions")
outputs = {
    "mtt::dipole": ModelOutput(unit="e*angstrom", sample_kind="system"),
    "mtt::quadrupole": ModelOutput(unit="e*angstrom^2", sample_kind="system"),
}
molecule = predicted[0].copy()
rotation = Rotation.random(random_state=0).as_matrix()
rotated = molecule.copy()
rotated.positions = molecule.positions @ rotation.T
before, after = (
    calculator.run_model([atoms], outputs) for atoms in (molecule, rotated)
)
xyz = [2, 0, 1]
dipole = before["mtt::dipole"].block().values.detach().numpy()[0, :, 0][xyz]
dipole_rotated = after["mtt::dipole"].block().values.detach().numpy()[0, :, 0][xyz]
quadrupole = before["mtt::quadrupole"].block().values.detach().numpy()[0, :, :, 0]
moved = after["mtt::quadrupole"].block().values.detach().numpy()[0, :, :, 0]
dipole_error = float(np.abs(dipole_rotated - rotation @ dipole).max())
quadrupole_error = float(np.abs(moved - rotation @ quadrupole @ rotation.T).max())
print(f"rotated dipole off by {dipole_error:.1e} e·Å")
print(f"rotated quadrupole off by {quadrupole_error:.1e} e·Å²")

quadrupole_labels = np.array([a.info["mtt_quadrupole_label"] for a in predicted])
quadrupole_predictions = np.array([a.info["mtt_quadrupole"] for a in predicted])
results = {
    "num_test_structures": len(predicted),
    "dipole_mae_e_angstrom": float(np.abs(prediction - label).mean()),
    "dipole_mean_absolute_component": float(np.abs(label).mean()),
    "dipole_component_mae_e_angstrom": component_mae,
    "quadrupole_mae_e_angstrom2": float(
        np.abs(quadrupole_predictions - quadrupole_labels).mean()
    ),
    "quadrupole_mean_absolute_component": float(np.abs(quadrupole_labels).mean()),
    "rotated_dipole_error": dipole_error,
    "rotated_quadrupole_error": quadrupole_error,
}
Path("results.json").write_text(json.dumps(results, indent=2))
print(json.dumps(results, indent=2))
