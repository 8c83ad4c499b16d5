"""Fine-tuning a pretrained model on a little data at another level of theory.

A model pretrained on many cheap labels (here GFN2-xTB, in eV) already knows the
shape of the potential energy surface; a few expensive labels (here DFT, in
kcal/mol) can then teach it the new level of theory. ``architecture.training.finetune``
starts training from the pretrained checkpoint. With ``method: heads`` only the
heads of the new targets are trained and the shared representation stays frozen.

The DFT labels are a new target, ``energy/dft`` (a *variant* of the energy), with
its own head, initialised from the pretrained energy head
(``inherit_heads``) and trained in kcal/mol; the pretrained ``energy`` head keeps
predicting GFN2-xTB energies. We compare with the same architecture trained from
scratch on the same DFT data.

Run it with ``python examples/tutorials/finetuning.py``; it works in
``tutorial-output/finetuning/`` (or in ``$ATOMTRAIN_TUTORIAL_OUTPUT``).
"""

import csv
import json
import os
from pathlib import Path

import ase.io
import matplotlib.pyplot as plt
from metatomic_ase import MetatomicCalculator

from atomtrain.cli.main import main as atomtrain_main

EXAMPLES = Path(__file__).resolve().parents[1]
GFN2 = EXAMPLES / "data" / "ethanol_gfn2_1000.xyz"
DFT = EXAMPLES.parent / "tests" / "resources" / "ethanol_reduced_100.xyz"
OUTPUT = Path(os.environ.get("ATOMTRAIN_TUTORIAL_OUTPUT", "tutorial-output/finetuning"))
OUTPUT.mkdir(parents=True, exist_ok=True)
os.chdir(OUTPUT)


def atomtrain(*arguments: str) -> None:
    """Run the ``atomtrain`` command line with ``arguments``; stop if it fails."""
    print("$ atomtrain", " ".join(arguments), flush=True)
    if atomtrain_main(list(arguments)) != 0:
        raise SystemExit(f"'atomtrain {arguments[0]}' failed")


# %%
# Pretraining
# -----------
#
# A SOAP-BPNN model of the GFN2-xTB energies and forces of ethanol, on 200 frames.

frames = ase.io.read(GFN2, index=":")
ase.io.write("gfn2_train.xyz", frames[0:800:4])
ase.io.write("gfn2_validation.xyz", frames[800:900:5])
Path("pretrain.yaml").write_text(
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
seed: 1
final_eval: false
training_set:
  systems: gfn2_train.xyz
  targets:
    energy: {unit: eV}
validation_set:
  systems: gfn2_validation.xyz
  targets:
    energy: {unit: eV}
test_set: 0.0
"""
)
atomtrain("train", "pretrain.yaml", "-o", "pretrained.pt", "-e", "extensions")

# %%
# Fine-tuning
# -----------
#
# The DFT file has 100 conformers with ``energy`` and ``forces`` in kcal/mol; 20 of
# them are held out for validation. The target ``energy/dft`` reads the file's
# ``energy`` key. Training starts from ``pretrained.ckpt``; before the first update,
# atomtrain checks that the loaded model still reproduces the pretrained
# predictions (the "step-0 check" in the log).

FINETUNE = f"""
architecture:
  name: soap_bpnn
  training:
    num_epochs: 20
    batch_size: 5
    learning_rate: 0.01
    finetune:
      method: heads
      read_from: pretrained.ckpt
      inherit_heads: {{energy/dft: energy}}
    loss:
      energy/dft:
        forces: {{weight: 10.0}}
base_precision: 32
seed: 2
final_eval: false
training_set:
  systems: {DFT}
  targets:
    energy/dft: {{key: energy, unit: kcal/mol}}
validation_set: 0.2
test_set: 0.0
"""
Path("finetune.yaml").write_text(FINETUNE)
atomtrain("train", "finetune.yaml", "-o", "finetuned.pt", "-e", "extensions")

# %%
# The same data from scratch
# --------------------------
#
# The same options without the ``finetune`` section (and with the model's
# hyperparameters, which a fine-tuned model takes from its checkpoint) train every
# weight from random ones. The seed gives the same validation split.

scratch = FINETUNE.replace(
    """    finetune:
      method: heads
      read_from: pretrained.ckpt
      inherit_heads: {energy/dft: energy}
""",
    "",
).replace(
    "  name: soap_bpnn\n",
    "  name: soap_bpnn\n  model:\n    soap: {max_angular: 4, max_radial: 5}\n",
)
Path("scratch.yaml").write_text(scratch)
atomtrain("train", "scratch.yaml", "-o", "scratch.pt", "-e", "extensions")

# %%
# Validation errors during training
# ---------------------------------
#
# Each run writes its metrics per epoch to ``train.csv`` in its run directory
# (``outputs/<date>/<time>/``), in the units of the target. Heads alone adapt
# quickly, but only as far as the frozen GFN2-xTB representation allows: on this
# data the model trained from scratch ends lower. ``method: full`` (every weight)
# and ``method: lora`` (low-rank adapters on the backbone) adapt the representation
# too; which one is best depends on how much new data there is and how far the two
# levels of theory are apart.


def validation_curve(run: Path) -> list:
    with open(run / "train.csv") as file:
        rows = list(csv.DictReader(file))
    # the second row holds the unit of each column
    return [float(row["val.energy/dft.forces.mae"]) for row in rows[1:]]


runs = sorted(Path("outputs").glob("*/*"))
finetuned_curve, scratch_curve = validation_curve(runs[-2]), validation_curve(runs[-1])
figure, axis = plt.subplots(figsize=(5.5, 3.8))
axis.plot(finetuned_curve, label="fine-tuned heads (backbone from GFN2-xTB)")
axis.plot(scratch_curve, label="from scratch")
axis.set_yscale("log")
axis.set_xlabel("epoch")
axis.set_ylabel("validation force MAE [kcal/mol/Å]")
axis.legend()
figure.tight_layout()
figure.savefig("finetuning.png", dpi=110)

# %%
# Both levels of theory in one model
# ----------------------------------
#
# The fine-tuned model exports both heads. In ASE, ``variants`` selects which one
# the calculator uses as *the* energy: the default is the GFN2-xTB head, in eV;
# ``{"energy": "dft"}`` selects the DFT one (converted to eV by metatomic).

atoms = ase.io.read(DFT, index=0)
energies = {}
for variant in (None, "dft"):
    atoms.calc = MetatomicCalculator(
        "finetuned.pt", extensions_directory="extensions", variants={"energy": variant}
    )
    energies[variant or "gfn2"] = atoms.get_potential_energy()
print(f"GFN2-xTB head: {energies['gfn2']:.3f} eV, DFT head: {energies['dft']:.3f} eV")

log = (runs[-2] / "train.log").read_text()
summary = {
    "step_zero_check_passed": "step-0 check passed" in log,
    "finetuned_val_force_mae_kcal_mol_angstrom": finetuned_curve[-1],
    "scratch_val_force_mae_kcal_mol_angstrom": scratch_curve[-1],
    "energy_gfn2_head_eV": energies["gfn2"],
    "energy_dft_head_eV": energies["dft"],
}
print(json.dumps(summary, indent=2))
Path("results.json").write_text(json.dumps(summary, indent=2))
