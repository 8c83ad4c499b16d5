"""Periodic structures with forces and stress.

Crystals, surfaces and liquids are periodic: the model sees atoms across the
cell's boundaries, and the stress, the derivative of the energy with respect to a
strain of the cell, is a label and a prediction of its own. atomtrain computes
forces and stress by automatic differentiation of the energy, so they are exact
derivatives of the model's energy, and trains on them.

The data are 100 periodic carbon structures (four atoms in a cell, DFT,
``tests/resources/carbon_reduced_100.xyz``) whose forces are stored under the key
``force`` and whose 3x3 ``virial`` (in eV) is in each frame's info. We train a
SOAP-BPNN model on energies, forces and virials, then check in ASE that the
exported model's stress is the derivative of its energy: against finite
differences, and along a compression of the cell.

Run it with ``python examples/tutorials/periodic_stress.py``; it works in
``tutorial-output/periodic_stress/`` (or in ``$ATOMTRAIN_TUTORIAL_OUTPUT``).
"""

import json
import os
from pathlib import Path

import ase.io
import matplotlib.pyplot as plt
import numpy as np
from ase.calculators.fd import calculate_numerical_stress
from metatomic_ase import MetatomicCalculator

from atomtrain.cli.main import main as atomtrain_main

DATA = Path(__file__).resolve().parents[2] / "tests/resources/carbon_reduced_100.xyz"
OUTPUT = Path(
    os.environ.get("ATOMTRAIN_TUTORIAL_OUTPUT", "tutorial-output/periodic_stress")
)
OUTPUT.mkdir(parents=True, exist_ok=True)
os.chdir(OUTPUT)


def atomtrain(*arguments: str) -> None:
    """Run the ``atomtrain`` command line with ``arguments``; stop if it fails."""
    print("$ atomtrain", " ".join(arguments), flush=True)
    if atomtrain_main(list(arguments)) != 0:
        raise SystemExit(f"'atomtrain {arguments[0]}' failed")


# %%
# Options with forces and virial
# ------------------------------
#
# ``forces: {key: force}`` names the array holding the forces; ``virial: on``
# reads the ``virial`` key. atomtrain checks signs and shapes when it reads them:
# a virial is minus the strain derivative of the energy, a stress that derivative
# divided by the volume. The validation set is a random fifth of the file.

Path("options.yaml").write_text(
    f"""
architecture:
  name: soap_bpnn
  model:
    soap: {{max_angular: 4, max_radial: 5}}
  training:
    num_epochs: 10
    batch_size: 8
    learning_rate: 0.005
    loss:
      energy:
        forces: {{weight: 1.0}}
        virial: {{weight: 0.1}}
base_precision: 64
seed: 3
final_eval: false
training_set:
  systems: {DATA}
  targets:
    energy:
      unit: eV
      forces: {{key: force}}
      virial: on
validation_set: 0.2
test_set: 0.0
"""
)
atomtrain("train", "options.yaml", "-o", "model.pt", "-e", "extensions")

# %%
# Stress in ASE
# -------------
#
# The ASE calculator returns the stress (eV/Å³, Voigt order) with the energy and
# forces. ASE's finite-difference stress, from energies of slightly strained cells,
# must agree with it.

structures = ase.io.read(DATA, index=":")
atoms = structures[0].copy()
atoms.calc = MetatomicCalculator("model.pt", extensions_directory="extensions")
stress = atoms.get_stress()
numerical = calculate_numerical_stress(atoms, eps=1e-5, force_consistent=False)
print(f"{len(atoms)} atoms; stress from autograd [eV/Å³]: {np.round(stress, 5)}")
print(f"stress from finite differences [eV/Å³]: {np.round(numerical, 5)}")

# %%
# Energy along a compression
# --------------------------
#
# Scaling the cell and the positions by ``s`` changes the volume by ``s³``; the
# pressure ``P = -trace(stress) / 3`` is minus the slope of the energy against the
# volume. The figure shows the energy curve and, at each point, the tangent the
# predicted pressure gives.

reference_cell = atoms.get_cell()
reference_positions = atoms.get_positions()
volumes, energies, pressures = [], [], []
for scale in np.linspace(0.97, 1.03, 7):
    atoms.set_cell(reference_cell * scale)
    atoms.set_positions(reference_positions * scale)
    volumes.append(atoms.get_volume())
    energies.append(atoms.get_potential_energy())
    pressures.append(-np.trace(atoms.get_stress(voigt=False)) / 3)

volumes, energies, pressures = map(np.array, (volumes, energies, pressures))
figure, axis = plt.subplots(figsize=(5.5, 3.8))
axis.plot(volumes, energies, "o", label="energy")
for volume, energy, pressure in zip(volumes, energies, pressures):
    span = np.array([-0.4, 0.4]) * (volumes[1] - volumes[0])
    axis.plot(volume + span, energy - pressure * span, color="tab:red")
axis.plot([], [], color="tab:red", label="slope -P from the predicted stress")
axis.set_xlabel("volume [Å³]")
axis.set_ylabel("energy [eV]")
axis.set_title(f"{atoms.get_chemical_formula()}: uniform compression")
axis.legend()
figure.tight_layout()
figure.savefig("compression.png", dpi=110)

slope = np.gradient(energies, volumes)
summary = {
    "num_atoms": len(atoms),
    "stress_eV_per_A3": stress.tolist(),
    "numerical_stress_eV_per_A3": numerical.tolist(),
    "max_stress_difference": float(np.abs(stress - numerical).max()),
    "pressure_eV_per_A3": pressures.tolist(),
    "minus_dE_dV_eV_per_A3": (-slope).tolist(),
}
print(json.dumps(summary, indent=2))
Path("results.json").write_text(json.dumps(summary, indent=2))
