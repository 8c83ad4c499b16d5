"""Fine-tuning an exported "foundation" model: atomtrain's ``metatomic`` architecture
side by side with the reference implementation's own fine-tuning.

1. The foundation model: the reference's ``pet`` trained on GFN2-xTB ethanol
   (``ethanol_gfn2_1000.xyz`` frames 0-699, eV; frames 700-799 validate), exported
   (``pet_gfn2.pt``) with its checkpoint (``pet_gfn2.ckpt``); reused when the work
   directory already has them.
2. Fine-tuning on 50 frames of DFT ethanol (``ethanol_reduced_100.xyz`` frames 0-49,
   kcal/mol), the same epochs, batch size, learning rate, seed and float32, each
   through its command line in a fresh process: atomtrain's ``metatomic`` from
   ``pet_gfn2.pt``; the reference's ``pet`` with ``finetune: {read_from:
   pet_gfn2.ckpt, method: full}``; atomtrain's ``metatomic`` with ``replay`` of 100
   pretraining frames (every 7th of 0-699, weight 1). The two timed runs alternate
   (atomtrain, reference, atomtrain, ...), and the best of each is kept: the machine
   is shared, the times are noisy.
3. Every exported model evaluated by the same code (``MetatomicCalculator``): force
   MAE on the 50 other DFT frames (50-99, kcal/mol/Å), and forgetting: force MAE
   against the GFN2 labels of frames 900-999 (eV/Å) before and after.
4. The same fine-tuning of models atomtrain trained and exported itself (PET and
   SOAP-BPNN, trained on the same GFN2 frames with small hypers).

The step-0 check (atomtrain's predictions of the training structures against
``MetatomicCalculator`` on the file) is read from each atomtrain run's log.

    PYTHONPATH=src python benchmarks/finetune_metatomic.py [--epochs 30] \\
        [--workdir /tmp/finetune-bench] [--repeats 2]

Measured (2 shared CPU cores, one thread per process, 30 epochs, batch 8, learning
rate 1e-4, float32; foundation: reference PET, 40 epochs, test force MAE 142 meV/Å
on GFN2 frames 900-999):

RESULTS
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import ase.io
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "examples" / "data" / "ethanol_gfn2_1000.xyz"
DFT = ROOT / "tests" / "resources" / "ethanol_reduced_100.xyz"
REFERENCE = Path("/tmp/metatrain-ref/bin/mtt")

#: The foundation PET: small enough to train in minutes on a CPU.
PET_HYPERS = {
    "cutoff": 4.5,
    "d_pet": 64,
    "d_head": 64,
    "d_node": 128,
    "d_feedforward": 128,
    "num_heads": 4,
    "num_attention_layers": 1,
    "num_gnn_layers": 2,
}
GFN2_TARGETS = {"energy": {"key": "energy", "unit": "eV", "forces": {"key": "forces"}}}
DFT_TARGETS = {
    "energy": {"key": "energy", "unit": "kcal/mol", "forces": {"key": "forces"}}
}
KCAL_PER_EV = 23.060547830619026


def section(path: Path, targets: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "systems": {"read_from": str(path), "length_unit": "angstrom"},
        "targets": targets,
    }


def write_data(directory: Path) -> Dict[str, Path]:
    gfn2 = ase.io.read(DATA, ":")
    dft = ase.io.read(DFT, ":")
    parts = {
        "gfn2_train": gfn2[:700],
        "gfn2_validation": gfn2[700:800],
        "gfn2_forgetting": gfn2[900:],
        "replay": gfn2[:700:7],
        "dft_train": dft[:50],
        "dft_test": dft[50:],
    }
    paths = {}
    for name, frames in parts.items():
        paths[name] = directory / f"{name}.xyz"
        ase.io.write(paths[name], frames)
    # the reference refuses to fine-tune a model of eV on labels in kcal/mol
    # ("Can't update DatasetInfo with different target information"): it gets the
    # same labels converted to eV
    for name in ("dft_train", "dft_test"):
        converted = []
        for frame in ase.io.read(paths[name], ":"):
            energy, forces = frame.get_potential_energy(), frame.get_forces()
            frame.calc = None
            frame.info["energy"] = energy / KCAL_PER_EV
            frame.arrays["forces"] = forces / KCAL_PER_EV
            converted.append(frame)
        paths[f"{name}_ev"] = directory / f"{name}_ev.xyz"
        ase.io.write(paths[f"{name}_ev"], converted)
    return paths


def write_shifted(paths: Dict[str, Path], model: Path) -> None:
    """The eV DFT files with their energies shifted by the mean difference between
    the labels and the foundation model's predictions on the training frames: the
    shift of reference energies that atomtrain's energy correction takes, given to
    the reference by hand (its fine-tuning keeps the pretraining's composition
    weights, and learns a 3,900 eV shift otherwise)."""
    from metatomic_ase import MetatomicCalculator

    calculator = MetatomicCalculator(str(model))
    differences = []
    for frame in ase.io.read(paths["dft_train_ev"], ":"):
        label = frame.get_potential_energy()
        frame.calc = calculator
        with np.errstate(invalid="ignore"):
            differences.append(label - frame.get_potential_energy())
    shift = float(np.mean(differences))
    for name in ("dft_train", "dft_test"):
        shifted = []
        for frame in ase.io.read(paths[f"{name}_ev"], ":"):
            energy, forces = frame.get_potential_energy(), frame.get_forces()
            frame.calc = None
            frame.info["energy"] = energy - shift
            frame.arrays["forces"] = forces
            shifted.append(frame)
        paths[f"{name}_shifted"] = paths[f"{name}_ev"].with_name(f"{name}_shifted.xyz")
        ase.io.write(paths[f"{name}_shifted"], shifted)


def run(command: List[str], directory: Path, threads: int) -> float:
    """Run ``command`` in ``directory``; its wall time (s)."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    with open(directory / "stdout.log", "w") as log:
        subprocess.run(
            command,
            cwd=directory,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=True,
        )
    return time.perf_counter() - start


def write_options(directory: Path, options: Dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "options.yaml").write_text(yaml.safe_dump(options))


def foundation(work: Path, paths: Dict[str, Path], epochs: int, threads: int) -> Path:
    """The reference PET trained on GFN2 (reused when present)."""
    directory = work / "foundation"
    if (directory / "pet_gfn2.ckpt").is_file():
        return directory
    write_options(
        directory,
        {
            "seed": 0,
            "base_precision": 32,
            "architecture": {
                "name": "pet",
                "model": PET_HYPERS,
                "training": {
                    "num_epochs": epochs,
                    "batch_size": 16,
                    "learning_rate": 1e-3,
                    "checkpoint_interval": epochs + 1,
                    "loss": {"energy": {"forces": {"weight": 10.0}}},
                },
            },
            "training_set": section(paths["gfn2_train"], GFN2_TARGETS),
            "validation_set": section(paths["gfn2_validation"], GFN2_TARGETS),
            "test_set": section(paths["gfn2_forgetting"], GFN2_TARGETS),
        },
    )
    run(
        [str(REFERENCE), "train", "options.yaml", "-o", "pet_gfn2.pt"],
        directory,
        threads,
    )
    return directory


def shared_training(epochs: int) -> Dict[str, Any]:
    return {
        "num_epochs": epochs,
        "batch_size": 8,
        "learning_rate": 1e-4,
        "log_interval": 1,
        "checkpoint_interval": epochs + 1,
    }


def finetune_options(
    paths: Dict[str, Path], architecture: Dict[str, Any], suffix: str = ""
) -> Dict[str, Any]:
    """The fine-tuning run: the 50 DFT frames train and validate (the best epoch
    is that of the lowest training loss, for both codes), the other 50 test;
    ``suffix`` picks the files in eV (``_ev``, ``_shifted``)."""
    targets = GFN2_TARGETS if suffix else DFT_TARGETS
    return {
        "seed": 0,
        "base_precision": 32,
        "architecture": architecture,
        "training_set": section(paths["dft_train" + suffix], targets),
        "validation_set": section(paths["dft_train" + suffix], targets),
        "test_set": section(paths["dft_test" + suffix], targets),
    }


def atomtrain_finetune(
    directory: Path,
    paths: Dict[str, Path],
    model: Path,
    epochs: int,
    threads: int,
    replay: bool = False,
) -> Tuple[float, str]:
    """Fine-tune ``model`` with atomtrain's ``metatomic``; wall time and the
    step-0 line of its log."""
    training = shared_training(epochs)
    if replay:
        training["replay"] = {"read_from": str(paths["replay"]), "weight": 1.0}
    options = finetune_options(
        paths,
        {"name": "metatomic", "model": {"path": str(model)}, "training": training},
    )
    write_options(directory, options)
    seconds = run(
        [sys.executable, "-m", "atomtrain", "train", "options.yaml", "-o", "model.pt"],
        directory,
        threads,
    )
    log = (directory / "stdout.log").read_text()
    step_zero = re.search(r"step-0 check .*", log)
    return seconds, step_zero.group(0) if step_zero else "(no step-0 line)"


def reference_finetune(
    directory: Path,
    paths: Dict[str, Path],
    checkpoint: Path,
    epochs: int,
    threads: int,
    suffix: str = "_shifted",
) -> float:
    training = shared_training(epochs)
    training["finetune"] = {"read_from": str(checkpoint), "method": "full"}
    options = finetune_options(
        paths, {"name": "pet", "model": PET_HYPERS, "training": training}, suffix
    )
    write_options(directory, options)
    return run(
        [str(REFERENCE), "train", "options.yaml", "-o", "model.pt"], directory, threads
    )


def force_mae(model: Path, frames_file: Path, unit_factor: float) -> float:
    """Force MAE of ``model`` on ``frames_file`` (labels in the file's unit; the
    calculator's eV/Å times ``unit_factor`` gives that unit)."""
    from metatomic_ase import MetatomicCalculator

    calculator = MetatomicCalculator(str(model))
    errors = []
    for frame in ase.io.read(frames_file, ":"):
        labels = frame.get_forces()
        frame.calc = calculator
        with np.errstate(invalid="ignore"):
            predicted = frame.get_forces() * unit_factor
        errors.append(np.abs(predicted - labels).ravel())
    return float(np.concatenate(errors).mean())


def atomtrain_pretrain(
    directory: Path,
    paths: Dict[str, Path],
    architecture: Dict[str, Any],
    threads: int,
) -> Path:
    """An atomtrain model trained on the GFN2 frames and exported (reused)."""
    if (directory / "model.pt").is_file():
        return directory / "model.pt"
    write_options(
        directory,
        {
            "seed": 0,
            "base_precision": 32,
            "architecture": architecture,
            "training_set": section(paths["gfn2_train"], GFN2_TARGETS),
            "validation_set": section(paths["gfn2_validation"], GFN2_TARGETS),
            "test_set": 0.0,
        },
    )
    run(
        [sys.executable, "-m", "atomtrain", "train", "options.yaml", "-o", "model.pt"],
        directory,
        threads,
    )
    return directory / "model.pt"


OWN_MODELS = {
    "atomtrain PET": {
        "name": "pet",
        "model": {
            "cutoff": 4.5,
            "d_pet": 32,
            "d_head": 32,
            "d_node": 64,
            "d_feedforward": 64,
            "num_heads": 4,
        },
        "training": {"num_epochs": 15, "batch_size": 16, "learning_rate": 1e-3},
    },
    "atomtrain SOAP-BPNN": {
        "name": "soap_bpnn",
        "training": {"num_epochs": 30, "batch_size": 16, "learning_rate": 1e-3},
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--pretrain-epochs", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/finetune-bench"))
    parser.add_argument("--skip-own", action="store_true")
    args = parser.parse_args()
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    paths = write_data(work)
    base = foundation(work, paths, args.pretrain_epochs, args.threads)
    write_shifted(paths, base / "pet_gfn2.pt")
    kcal = KCAL_PER_EV
    results: Dict[str, Any] = {"times": {"atomtrain": [], "reference": []}}
    for repeat in range(args.repeats):
        seconds, step_zero = atomtrain_finetune(
            work / f"atomtrain-{repeat}",
            paths,
            base / "pet_gfn2.pt",
            args.epochs,
            args.threads,
        )
        results["times"]["atomtrain"].append(seconds)
        results["step_zero"] = step_zero
        results["times"]["reference"].append(
            reference_finetune(
                work / f"reference-{repeat}",
                paths,
                base / "pet_gfn2.ckpt",
                args.epochs,
                args.threads,
            )
        )
    atomtrain_finetune(
        work / "replay",
        paths,
        base / "pet_gfn2.pt",
        args.epochs,
        args.threads,
        replay=True,
    )
    reference_finetune(
        work / "reference-unshifted",
        paths,
        base / "pet_gfn2.ckpt",
        args.epochs,
        args.threads,
        suffix="_ev",
    )
    models = {
        "foundation": base / "pet_gfn2.pt",
        "atomtrain": work / "atomtrain-0" / "model.pt",
        "atomtrain + replay": work / "replay" / "model.pt",
        "reference": work / "reference-0" / "model.pt",
        "reference, unshifted": work / "reference-unshifted" / "model.pt",
    }
    results["errors"] = {
        name: {
            "dft_test_force_mae": force_mae(path, paths["dft_test"], kcal),
            "gfn2_force_mae": force_mae(path, paths["gfn2_forgetting"], 1.0),
        }
        for name, path in models.items()
    }
    if not args.skip_own:
        results["own"] = {}
        for name, architecture in OWN_MODELS.items():
            stem = name.split()[1].lower()
            pretrained = atomtrain_pretrain(
                work / f"own-{stem}", paths, architecture, args.threads
            )
            seconds, step_zero = atomtrain_finetune(
                work / f"own-{stem}-finetuned",
                paths,
                pretrained,
                args.epochs,
                args.threads,
            )
            tuned = work / f"own-{stem}-finetuned" / "model.pt"
            results["own"][name] = {
                "step_zero": step_zero,
                "seconds": seconds,
                "dft_test_force_mae": force_mae(tuned, paths["dft_test"], kcal),
                "gfn2_force_mae_before": force_mae(
                    pretrained, paths["gfn2_forgetting"], 1.0
                ),
                "gfn2_force_mae_after": force_mae(tuned, paths["gfn2_forgetting"], 1.0),
            }
    (work / "results.json").write_text(json.dumps(results, indent=2))
    report(results)


def report(results: Dict[str, Any]) -> None:
    times = results["times"]
    ours, theirs = min(times["atomtrain"]), min(times["reference"])
    errors = results["errors"]
    print(f"step-0: {results['step_zero']}")
    print(
        f"wall time (best of {len(times['atomtrain'])}): atomtrain {ours:.1f} s, "
        f"reference {theirs:.1f} s, ratio {ours / theirs:.2f}"
    )
    ratio = (
        errors["atomtrain"]["dft_test_force_mae"]
        / errors["reference"]["dft_test_force_mae"]
    )
    print(f"test force MAE ratio atomtrain / reference: {ratio:.3f}")
    print(f"{'model':<22}{'DFT test force MAE':>22}{'GFN2 force MAE':>18}")
    for name, values in errors.items():
        print(
            f"{name:<22}{values['dft_test_force_mae']:>15.3f} kcal/mol/Å"
            f"{values['gfn2_force_mae']:>12.3f} eV/Å"
        )
    for name, values in results.get("own", {}).items():
        print(
            f"{name}: {values['step_zero']}; DFT test force MAE "
            f"{values['dft_test_force_mae']:.3f} kcal/mol/Å; GFN2 force MAE "
            f"{values['gfn2_force_mae_before']:.3f} -> "
            f"{values['gfn2_force_mae_after']:.3f} eV/Å"
        )


if __name__ == "__main__":
    main()
