"""Fine-tune a pretrained model: any exported metatomic model, on your own data.

A pretrained ("foundation") model arrives as an exported metatomic file,
``model.pt``, whichever code trained it. The ``metatomic`` architecture fine-tunes
such a file on your data: its weights train with atomtrain's engine, its units are
converted to yours, a per-element energy correction absorbs the shift between its
level of theory and yours, and the result is again a metatomic model.

Here the "pretrained" model is a small SOAP-BPNN trained on GFN2-xTB ethanol
(``examples/data/ethanol_gfn2_1000.xyz``, eV), standing for any exported model; it
is fine-tuned on 50 frames of DFT ethanol in kcal/mol
(``tests/resources/ethanol_reduced_100.xyz``), and both models are evaluated on 50
other DFT frames. ``replay`` keeps some GFN2 frames, labelled by the pretrained
model itself, in training, so that the model forgets less of what it knew.

Run it with ``python examples/tutorials/finetune_pretrained.py``; it works in
``tutorial-output/finetune_pretrained/`` (or in ``$ATOMTRAIN_TUTORIAL_OUTPUT``).
"""

import json
import os
import re
from pathlib import Path

import ase.io
import matplotlib.pyplot as plt
import numpy as np
from metatomic.torch import load_atomistic_model
from metatomic_ase import MetatomicCalculator

from atomtrain.cli.main import main as atomtrain_main

ROOT = Path(__file__).resolve().parents[2]
GFN2 = ROOT / "examples" / "data" / "ethanol_gfn2_1000.xyz"
DFT = ROOT / "tests" / "resources" / "ethanol_reduced_100.xyz"
OUTPUT = Path(
    os.environ.get("ATOMTRAIN_TUTORIAL_OUTPUT", "tutorial-output/finetune_pretrained")
)
OUTPUT.mkdir(parents=True, exist_ok=True)
os.chdir(OUTPUT)


def atomtrain(*arguments: str) -> None:
    """Run the ``atomtrain`` command line with ``arguments``; stop if it fails."""
    print("$ atomtrain", " ".join(arguments), flush=True)
    if atomtrain_main(list(arguments)) != 0:
        raise SystemExit(f"'atomtrain {arguments[0]}' failed")


# %%
# A pretrained model
# ------------------
#
# Any exported metatomic model will do (a foundation model downloaded as
# ``model.pt``, a model of another training code); here, a SOAP-BPNN trained on
# GFN2-xTB energies and forces in eV for a few seconds.

gfn2 = ase.io.read(GFN2, index=":")
ase.io.write("gfn2.xyz", gfn2[0:800:4])
ase.io.write("replay.xyz", gfn2[1:800:16])
ase.io.write("gfn2_test.xyz", gfn2[900:1000:2])
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
seed: 7
final_eval: false
training_set:
  systems: gfn2.xyz
  targets:
    energy: {unit: eV}
validation_set: 0.1
test_set: 0.0
"""
)
atomtrain("train", "pretrain.yaml", "-o", "pretrained.pt", "-e", "extensions")

# %%
# Your data, and how the pretrained model does on it
# --------------------------------------------------
#
# 50 DFT frames to fine-tune on and 50 to test, energies in kcal/mol.
# ``atomtrain eval`` converts the model's eV to the data's kcal/mol; its energies
# are off by a constant (another level of theory, other reference energies), and
# its forces are those of GFN2-xTB.

dft = ase.io.read(DFT, index=":")
ase.io.write("train.xyz", dft[:50])
ase.io.write("test.xyz", dft[50:])
Path("test.yaml").write_text(
    """
systems: test.xyz
targets:
  energy: {unit: kcal/mol}
"""
)
atomtrain(
    "eval", "pretrained.pt", "test.yaml", "-e", "extensions", "--plot", "before.png"
)

# %%
# Fine-tuning
# -----------
#
# The ``metatomic`` architecture takes the exported file (and its extensions
# directory); ``trainable`` could restrict training to some parameters by name.
# Before the first update atomtrain checks that its predictions of the training
# structures are those of metatomic's ASE calculator on the file, and fits the
# energy correction on what the pretrained model gets wrong.

Path("finetune.yaml").write_text(
    """
architecture:
  name: metatomic
  model:
    path: pretrained.pt
    extensions: extensions/
    trainable: ["*"]
  training:
    num_epochs: 20
    batch_size: 5
    learning_rate: 1.0e-3
    replay: {read_from: replay.xyz, weight: 0.5}
    loss:
      energy:
        forces: {weight: 10.0}
base_precision: 32
seed: 7
final_eval: false
training_set:
  systems: train.xyz
  targets:
    energy: {unit: kcal/mol}
validation_set: 0.1
test_set: 0.0
"""
)
atomtrain("train", "finetune.yaml", "-o", "finetuned.pt", "-e", "extensions")
atomtrain(
    "eval", "finetuned.pt", "test.yaml", "-e", "extensions", "--plot", "after.png"
)

# %%
# Before and after
# ----------------
#
# The fine-tuned model is a metatomic model like any other: here it runs in ASE
# on the test frames, next to the pretrained one. The metadata of the file says
# what it was fine-tuned on.

log = sorted(Path("outputs").glob("*/*/train.log"))[-1].read_text()
step_zero = re.search(r"step-0 check .*", log)
print(step_zero.group(0) if step_zero else "no step-0 check in the log")


def force_errors(model: str, frames_file: str, kcal: bool) -> np.ndarray:
    """Force errors of ``model`` on ``frames_file`` in the file's unit."""
    calculator = MetatomicCalculator(model, extensions_directory="extensions")
    factor = 23.060547830619026 if kcal else 1.0  # eV/Å → kcal/mol/Å
    errors = []
    for atoms in ase.io.read(frames_file, index=":"):
        reference = atoms.get_forces()
        atoms.calc = calculator
        errors.append(atoms.get_forces() * factor - reference)
    return np.concatenate(errors).ravel()


before = force_errors("pretrained.pt", "test.xyz", kcal=True)
after = force_errors("finetuned.pt", "test.xyz", kcal=True)
figure, axis = plt.subplots(figsize=(5, 3.5))
bins = np.linspace(-40, 40, 81)
axis.hist(before, bins=bins, alpha=0.6, label="pretrained (GFN2-xTB)")
axis.hist(after, bins=bins, alpha=0.6, label="fine-tuned on 50 DFT frames")
axis.set_xlabel("force error on the DFT test frames [kcal/mol/Å]")
axis.set_ylabel("count")
axis.legend()
figure.tight_layout()
figure.savefig("force_errors.png", dpi=110)

finetuned = load_atomistic_model("finetuned.pt", extensions_directory="extensions")
note = json.loads(finetuned.metadata().extra["atomtrain-finetune"])
summary = {
    "step_zero_check_passed": step_zero is not None,
    "force_mae_before_kcal_mol_angstrom": float(np.abs(before).mean()),
    "force_mae_after_kcal_mol_angstrom": float(np.abs(after).mean()),
    "gfn2_force_mae_before_eV_angstrom": float(
        np.abs(force_errors("pretrained.pt", "gfn2_test.xyz", kcal=False)).mean()
    ),
    "gfn2_force_mae_after_eV_angstrom": float(
        np.abs(force_errors("finetuned.pt", "gfn2_test.xyz", kcal=False)).mean()
    ),
    "finetuned_on": sorted(Path(f).name for f in note["training_files"]),
}
print(json.dumps(summary, indent=2))
Path("results.json").write_text(json.dumps(summary, indent=2))
