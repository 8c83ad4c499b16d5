"""Uncertainty along a molecular-dynamics trajectory with LLPR.

A model is only reliable near its training data. The ``llpr`` architecture wraps a
trained model and adds an uncertainty to each prediction, from the last-layer
features of the training structures (last-layer prediction rigidity), calibrated on
the validation set. No weight is retrained: it takes seconds.

We train a SOAP-BPNN model on GFN2-xTB ethanol sampled at 500 K, wrap it with LLPR,
and run molecular dynamics while heating the molecule from 300 K to 1500 K. The
``energy_uncertainty`` output, read from the ASE calculator at every step, grows as
the trajectory leaves the region the training data covered.

Run it with ``python examples/tutorials/uncertainty_md.py``; it works in
``tutorial-output/uncertainty_md/`` (or in ``$ATOMTRAIN_TUTORIAL_OUTPUT``).
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
from metatomic.torch import ModelOutput
from metatomic_ase import MetatomicCalculator

from atomtrain.cli.main import main as atomtrain_main

DATA = Path(__file__).resolve().parents[1] / "data" / "ethanol_gfn2_1000.xyz"
OUTPUT = Path(
    os.environ.get("ATOMTRAIN_TUTORIAL_OUTPUT", "tutorial-output/uncertainty_md")
)
OUTPUT.mkdir(parents=True, exist_ok=True)
os.chdir(OUTPUT)


def atomtrain(*arguments: str) -> None:
    """Run the ``atomtrain`` command line with ``arguments``; stop if it fails."""
    print("$ atomtrain", " ".join(arguments), flush=True)
    if atomtrain_main(list(arguments)) != 0:
        raise SystemExit(f"'atomtrain {arguments[0]}' failed")


# %%
# A model
# -------

frames = ase.io.read(DATA, index=":")
ase.io.write("train.xyz", frames[0:800:4])
ase.io.write("validation.xyz", frames[800:1000:4])
DATASETS = """
base_precision: 64
seed: 5
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
Path("model.yaml").write_text(
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
"""
    + DATASETS
)
atomtrain("train", "model.yaml", "-o", "model.pt", "-e", "extensions")

# %%
# The LLPR wrapper
# ----------------
#
# ``llpr`` reads the trained model from ``training.model_checkpoint``, computes
# the covariance of the last-layer features over the training set, and fits its
# regulariser and scale on the validation set. The log reports the fraction of
# validation errors within one and two predicted standard deviations.

Path("llpr.yaml").write_text(
    """
architecture:
  name: llpr
  training:
    model_checkpoint: model.ckpt
"""
    + DATASETS
)
atomtrain("train", "llpr.yaml", "-o", "llpr.pt", "-e", "extensions")

# %%
# Heating molecular dynamics
# --------------------------
#
# The calculator computes ``energy_uncertainty`` (in eV, one value for the
# structure) with the energy when asked for it in ``additional_outputs``. The
# thermostat's temperature rises linearly from 300 K to 1500 K over 400 steps of
# 0.5 fs.

atoms = frames[900].copy()
atoms.set_constraint(FixCom())
atoms.calc = MetatomicCalculator(
    "llpr.pt",
    extensions_directory="extensions",
    additional_outputs={
        "energy_uncertainty": ModelOutput(unit="eV", sample_kind="system")
    },
)
# metatomic-ase symmetrises the stress of non-periodic systems, which is NaN
warnings.filterwarnings("ignore", "invalid value", RuntimeWarning, "metatomic_ase")
thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(0))
STEPS = 400
dynamics = Langevin(
    atoms,
    timestep=0.5 * units.fs,
    temperature_K=300,
    friction=0.05 / units.fs,
    fixcm=False,
    rng=np.random.default_rng(1),
)
target, temperature, uncertainty = [], [], []


def record() -> None:
    atoms.get_potential_energy()
    sigma = atoms.calc.additional_outputs["energy_uncertainty"].block().values
    uncertainty.append(float(sigma[0, 0].detach()))
    temperature.append(atoms.get_temperature())
    target.append(300 + 1200 * dynamics.nsteps / STEPS)
    dynamics.set_temperature(temperature_K=target[-1])


dynamics.attach(record, interval=1)
dynamics.run(STEPS)

time_fs = 0.5 * np.arange(len(uncertainty))
figure, (top, bottom) = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
top.plot(time_fs, temperature, label="molecule")
top.plot(time_fs, target, color="black", linestyle="--", label="thermostat")
top.set_ylabel("temperature [K]")
top.legend()
bottom.plot(time_fs, 1000 * np.array(uncertainty))
bottom.set_yscale("log")
bottom.set_xlabel("time [fs]")
bottom.set_ylabel("energy uncertainty [meV]")
figure.tight_layout()
figure.savefig("uncertainty.png", dpi=110)

quarter = len(uncertainty) // 4
summary = {
    "mean_uncertainty_first_quarter_eV": float(np.mean(uncertainty[:quarter])),
    "mean_uncertainty_last_quarter_eV": float(np.mean(uncertainty[-quarter:])),
    "mean_temperature_last_quarter_K": float(np.mean(temperature[-quarter:])),
}
print(json.dumps(summary, indent=2))
Path("results.json").write_text(json.dumps(summary, indent=2))
