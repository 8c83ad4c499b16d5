"""The runs of ``finetune_metatomic.py``: the data files, the foundation model, the
fine-tuning runs of atomtrain and of the reference through their command lines, and
the force errors of exported models through ``MetatomicCalculator``."""

from __future__ import annotations

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
#: Reuse the runs already done in the work directory (set by ``--resume``).
RESUME = False


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
    """Run ``command`` in ``directory``; its wall time (s), kept in
    ``seconds.txt``: a run that has it is not run again (``--resume``)."""
    done = directory / "seconds.txt"
    if RESUME and done.is_file() and (directory / "model.pt").is_file():
        return float(done.read_text())
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
    seconds = time.perf_counter() - start
    done.write_text(f"{seconds}\n")
    return seconds


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
    wrapped: Dict[str, Any] = {"path": str(model)}
    if (model.parent / "extensions").is_dir():
        # atomtrain's SOAP-BPNN needs sphericart's compiled extension
        wrapped["extensions"] = str(model.parent / "extensions")
    options = finetune_options(
        paths, {"name": "metatomic", "model": wrapped, "training": training}
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

    extensions = model.parent / "extensions"
    calculator = MetatomicCalculator(
        str(model), extensions_directory=extensions if extensions.is_dir() else None
    )
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
