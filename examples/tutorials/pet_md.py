"""Train PET on ethanol and run Langevin molecular dynamics in ASE.

The main job of atomtrain in one script: write an options file, train a PET model
on the energies and forces of ethanol with ``atomtrain train``, and run the exported
model in ASE as an interatomic potential, here molecular dynamics at 300 K with a
Langevin thermostat. The figure shows the temperature and the energies along the
trajectory.

The data are 1000 frames of a GFN2-xTB Langevin trajectory of one ethanol molecule
at 500 K (``examples/data/ethanol_gfn2_1000.xyz``, energies in eV, forces in eV/Å).
The model here is tiny and trained for a few seconds so that the tutorial runs in
continuous integration; ``make demo`` trains a larger one for a minute or two.

Run it with ``python examples/tutorials/pet_md.py``; it works in
``tutorial-output/pet_md/`` (or in ``$ATOMTRAIN_TUTORIAL_OUTPUT``).
"""

import json
import os
import warnings
from pathlib import Path

import ase.io
import matplotlib.pyplot as plt
import numpy as np
from ase import units
from ase.constraints import FixCom
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import thermalize_momenta
from metatomic_ase import MetatomicCalculator

from atomtrain.cli.main import main as atomtrain_main

DATA = Path(__file__).resolve().parents[1] / "data" / "ethanol_gfn2_1000.xyz"
OUTPUT = Path(os.environ.get("ATOMTRAIN_TUTORIAL_OUTPUT", "tutorial-output/pet_md"))
OUTPUT.mkdir(parents=True, exist_ok=True)
os.chdir(OUTPUT)


def atomtrain(*arguments: str) -> None:
    """Run the ``atomtrain`` command line with ``arguments``; stop if it fails."""
    print("$ atomtrain", " ".join(arguments), flush=True)
    if atomtrain_main(list(arguments)) != 0:
        raise SystemExit(f"'atomtrain {arguments[0]}' failed")


# %%
# The data
# --------
#
# Consecutive frames of a trajectory are 5 fs apart and strongly correlated, so we
# train on every fourth frame of the first 800 and validate on every fifth frame of
# the next 100. ASE writes the subsets as extended XYZ files, which atomtrain reads
# back with their ``energy`` and ``forces``.

frames = ase.io.read(DATA, index=":")
ase.io.write("train.xyz", frames[0:800:4])
ase.io.write("validation.xyz", frames[800:900:5])

# %%
# The options file
# ----------------
#
# One YAML file says everything: the architecture and its hyperparameters, the
# precision, the seed and the datasets. ``forces`` are read from the ``forces``
# array by default; the loss weighs them ten times more than the energy. The
# hyperparameters we do not give keep their defaults (``atomtrain doc pet`` lists
# them all).

OPTIONS = """
architecture:
  name: pet
  model:
    cutoff: 4.0
    d_pet: 32
    d_head: 32
    d_node: 32
    d_feedforward: 32
    num_heads: 2
    num_attention_layers: 1
    num_gnn_layers: 1
  training:
    num_epochs: 15
    batch_size: 4
    learning_rate: 0.005
    warmup_fraction: 0.1
    loss:
      energy:
        forces: {weight: 10.0}
base_precision: 32
seed: 42
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
Path("options.yaml").write_text(OPTIONS)

# %%
# Training
# --------
#
# ``atomtrain train`` validates the options, reads the data once, trains, and
# writes the checkpoint ``model.ckpt`` and the exported model ``model.pt``: a
# TorchScript file that ASE, LAMMPS, i-PI and other engines run through metatomic.
# Compiled extensions the model needs are collected into ``extensions/``.

atomtrain("train", "options.yaml", "-o", "model.pt", "-e", "extensions")

# %%
# Molecular dynamics
# ------------------
#
# ``MetatomicCalculator`` turns the exported model into an ASE calculator; forces
# are the exact negative gradient of the energy, computed by autograd. We start
# from a validation frame with velocities drawn at 300 K and integrate with a
# Langevin thermostat (time step 0.5 fs, friction 0.02 fs⁻¹), keeping the centre
# of mass fixed.

atoms = frames[850].copy()
# metatomic-ase symmetrises the stress of non-periodic systems, which is NaN
warnings.filterwarnings("ignore", "invalid value", RuntimeWarning, "metatomic_ase")
atoms.calc = MetatomicCalculator("model.pt", extensions_directory="extensions")
atoms.set_constraint(FixCom())
thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(3))
timestep_fs = 0.5
dynamics = Langevin(
    atoms,
    timestep=timestep_fs * units.fs,
    temperature_K=300,
    friction=0.02 / units.fs,
    fixcm=False,
    rng=np.random.default_rng(4),
)
temperature, potential, total, longest_bond = [], [], [], []


def record() -> None:
    temperature.append(atoms.get_temperature())
    potential.append(atoms.get_potential_energy())
    total.append(atoms.get_total_energy())
    # the longest bond of the molecule: C-C, C-O, C-H and O-H are all below 1.6 Å
    distances = atoms.get_all_distances()
    nearest = np.sort(distances, axis=1)[:, 1]
    longest_bond.append(float(nearest.max()))


dynamics.attach(record, interval=1)
dynamics.run(400)

# %%
# The trajectory
# --------------
#
# The temperature fluctuates around the thermostat's 300 K (a molecule of nine
# atoms has large fluctuations), and the potential energy follows it. With a
# thermostat the total energy is not conserved: the Langevin forces add and remove
# energy.

time_fs = np.arange(len(temperature)) * timestep_fs
figure, (top, bottom) = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
top.plot(time_fs, temperature)
top.axhline(300, color="black", linestyle="--", linewidth=1, label="thermostat")
top.set_ylabel("temperature [K]")
top.legend()
bottom.plot(time_fs, np.array(potential) - potential[0], label="potential")
bottom.plot(time_fs, np.array(total) - potential[0], label="total")
bottom.set_xlabel("time [fs]")
bottom.set_ylabel("energy - initial potential [eV]")
bottom.legend()
figure.tight_layout()
figure.savefig("md.png", dpi=110)

second_half = len(temperature) // 2
summary = {
    "steps": len(temperature) - 1,
    "mean_temperature_K": float(np.mean(temperature[second_half:])),
    "longest_bond_angstrom": float(max(longest_bond)),
    "energies_finite": bool(np.isfinite(potential).all()),
}
print(json.dumps(summary, indent=2))
Path("results.json").write_text(json.dumps(summary, indent=2))
