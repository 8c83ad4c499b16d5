"""The atomtrain demo (``make demo``): the main job of the product, end to end.

1. list the architectures (``atomtrain doc``);
2. check the options and the data (``atomtrain check``);
3. train PET on the GFN2-xTB energies and forces of ethanol (``atomtrain train``);
4. evaluate the exported model on held-out frames, with a parity plot
   (``atomtrain eval --plot``), and print the mean signed energy error per atom
   beside its RMSE. The constant of the energy is barely trained when forces
   dominate the loss (``options.yaml`` says by how much), so a small offset, the
   same on training and held-out frames, shows in the energy parity plot: its
   size and sign change with the seed (-1.5 meV/atom for the demo's, within an
   RMSE of 7 meV/atom; -21 to +6 for others);
5. run molecular dynamics with the exported model in ASE (velocity Verlet, constant
   energy) and report how well the total energy is conserved, with a figure.

Everything is written under ``demo-run/`` at the repository root. Each step runs the
real command line; the demo stops at the first step that fails.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RUN = ROOT / "demo-run"
OPTIONS = HERE / "options.yaml"
TEST_SET = HERE / "test_set.yaml"
DATA = HERE.parent / "data" / "ethanol_gfn2_1000.xyz"


def step(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def atomtrain(*arguments: str) -> None:
    """Run ``atomtrain ARGUMENTS`` as a user would; stop the demo if it fails."""
    print(f"$ atomtrain {' '.join(arguments)}", flush=True)
    result = subprocess.run([sys.executable, "-m", "atomtrain", *arguments], cwd=RUN)
    if result.returncode != 0:
        raise SystemExit(f"the demo stops: 'atomtrain {arguments[0]}' failed")


def energy_offset(predictions: Path) -> None:
    """Print the mean signed error of the energy per atom on the held-out frames
    beside its spread: a systematic offset would show as a mean far from zero
    compared with the RMSE."""
    import ase.io
    import numpy as np

    frames = ase.io.read(predictions, index=":")
    errors = np.array(
        [
            (atoms.get_potential_energy() - atoms.info["energy_label"]) / len(atoms)
            for atoms in frames
        ]
    )
    print(
        f"energy per atom on the {len(frames)} held-out frames: mean signed error "
        f"{errors.mean() * 1000:+.2f} meV/atom, RMSE "
        f"{np.sqrt(np.mean(errors**2)) * 1000:.2f} meV/atom (an offset of the energy "
        "that training with forces leaves loose; see examples/demo/options.yaml)"
    )


def molecular_dynamics(model: Path, steps: int = 400, timestep_fs: float = 0.5) -> None:
    """Constant-energy MD of ethanol from a held-out frame at 300 K; prints the drift
    of the total energy and writes a figure of the energies along the trajectory."""
    import ase.io
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from ase import units
    from ase.md.velocitydistribution import thermalize_momenta
    from ase.md.verlet import VelocityVerlet
    from metatomic_ase import MetatomicCalculator

    atoms = ase.io.read(DATA, index=950)
    atoms.calc = MetatomicCalculator(
        str(model), extensions_directory=str(RUN / "extensions")
    )
    thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(7))
    dynamics = VelocityVerlet(atoms, timestep=timestep_fs * units.fs)
    potential, kinetic = [], []

    def record() -> None:
        potential.append(atoms.get_potential_energy())
        kinetic.append(atoms.get_kinetic_energy())

    dynamics.attach(record, interval=1)
    with warnings.catch_warnings():
        # metatomic-ase symmetrises the undefined (NaN) stress of a molecule
        warnings.filterwarnings("ignore", "invalid value", RuntimeWarning)
        dynamics.run(steps)
    total = np.array(potential) + np.array(kinetic)
    time_ps = np.arange(len(total)) * timestep_fs / 1000
    slope = np.polyfit(time_ps, total, 1)[0] / len(atoms)
    spread = (total.max() - total.min()) / len(atoms)
    temperature = 2 * np.mean(kinetic) / (3 * len(atoms) * units.kB)
    print(
        f"{steps} steps of {timestep_fs} fs: mean temperature {temperature:.0f} K, "
        f"total energy drift {slope * 1000:+.3f} meV/atom/ps, "
        f"fluctuation {spread * 1000:.3f} meV/atom"
    )
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.plot(time_ps, np.array(potential) - total[0], label="potential")
    axis.plot(time_ps, np.array(kinetic), label="kinetic")
    axis.plot(time_ps, total - total[0], label="total", color="black")
    axis.set_xlabel("time [ps]")
    axis.set_ylabel("energy - initial total [eV]")
    axis.legend()
    figure.tight_layout()
    figure.savefig(RUN / "md_energy.png", dpi=120)
    print(f"wrote {RUN / 'md_energy.png'}")


def main() -> int:
    RUN.mkdir(exist_ok=True)
    print("atomtrain demo: a machine-learning potential of ethanol from one YAML file")
    step("1. Architectures")
    atomtrain("doc")
    step(f"2. Check {OPTIONS.relative_to(ROOT)} and its data")
    atomtrain("check", str(OPTIONS))
    step("3. Train PET (a minute or two on a laptop CPU)")
    atomtrain("train", str(OPTIONS), "-o", "model.pt", "-e", "extensions")
    step("4. Evaluate on the held-out frames 900-999")
    atomtrain(
        "eval",
        "model.pt",
        str(TEST_SET),
        "-o",
        "predictions.xyz",
        "-p",
        "parity.png",
        "-e",
        "extensions",
    )
    energy_offset(RUN / "predictions.xyz")
    step("5. Molecular dynamics in ASE with the exported model")
    molecular_dynamics(RUN / "model.pt")
    print(f"\nEverything the demo wrote is in {RUN}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
