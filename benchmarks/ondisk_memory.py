"""Peak memory and time of converting a large extxyz file to the on-disk format and of
iterating over it.

Generates N structures (default 200,000) by perturbing ethanol frames with a fixed
seed, written one frame at a time into a temporary directory; converts it with
energy and forces in a subprocess, iterates over the result in another (every
structure, and batches with neighbour lists for a sample), and reports each one's
peak resident memory (``resource.getrusage``) next to the size the data would take
in memory.

    .venv/bin/python benchmarks/ondisk_memory.py [--structures 200000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "examples/data/ethanol_gfn2_1000.xyz"


def generate(path: Path, count: int, seed: int = 0) -> None:
    """Write ``count`` perturbed ethanol frames to ``path``, one at a time."""
    import ase.io
    import numpy as np
    from ase.calculators.singlepoint import SinglePointCalculator

    frames = ase.io.read(SOURCE, ":")
    rng = np.random.default_rng(seed)
    with open(path, "w") as file:
        for i in range(count):
            atoms = frames[i % len(frames)].copy()
            atoms.positions += rng.normal(scale=0.01, size=atoms.positions.shape)
            energy = frames[i % len(frames)].get_potential_energy()
            forces = frames[i % len(frames)].get_forces()
            atoms.calc = SinglePointCalculator(
                atoms, energy=energy + rng.normal(scale=1e-3), forces=forces
            )
            ase.io.write(file, atoms, format="extxyz")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def resident_mb() -> dict:
    """Current anonymous and file-backed resident memory (Linux): mapped file pages
    count in RSS but are page cache the kernel reclaims under pressure."""
    fields = {}
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("RssAnon", "RssFile"):
                fields[name] = int(value.split()[0]) / 1024
    return fields


def run_convert(source: Path, output: Path) -> dict:
    from atomtrain.data.info import TargetInfo
    from atomtrain.data.ondisk_convert import ConvertTarget, convert

    baseline = peak_rss_mb()
    start = time.perf_counter()
    target = ConvertTarget(
        "energy",
        "energy",
        TargetInfo(quantity="energy", unit="eV"),
        forces_key="forces",
    )
    count = convert([source], output, [target])
    return {
        "structures": count,
        "seconds": time.perf_counter() - start,
        "peak_rss_MB": peak_rss_mb(),
        "rss_after_imports_MB": baseline,
    }


def run_iterate(output: Path) -> dict:
    import torch
    from metatomic.torch import NeighborListOptions

    from atomtrain.data.batching import BatchBuilder
    from atomtrain.data.ondisk import DiskDataset

    dataset = DiskDataset(output)
    baseline = peak_rss_mb()
    start = time.perf_counter()
    atoms = 0
    for structure in dataset:
        atoms += len(structure)
    read_seconds = time.perf_counter() - start
    options = NeighborListOptions(cutoff=4.5, full_list=True, strict=True)
    builder = BatchBuilder([options], dataset.info.targets, dtype=torch.float32)
    start = time.perf_counter()
    batches = 0
    step = max(1, len(dataset) // 500)
    for first in range(0, len(dataset), 16 * step):
        builder(dataset, range(first, min(first + 16, len(dataset))), ("positions",))
        batches += 1
    return {
        "atoms": atoms,
        "read_all_seconds": read_seconds,
        "batches": batches,
        "batches_per_s_first_epoch": batches / (time.perf_counter() - start),
        "peak_rss_MB": peak_rss_mb(),
        "rss_after_imports_MB": baseline,
        "num_atoms_call_s": _timed(dataset.num_atoms),
        **resident_mb(),
    }


def _timed(function) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def child(stage: str, *paths: str) -> None:
    result = (
        run_convert(Path(paths[0]), Path(paths[1]))
        if stage == "convert"
        else run_iterate(Path(paths[0]))
    )
    print(json.dumps(result))


def stage(name: str, *paths: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--stage", name, *map(str, paths)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--structures", type=int, default=200_000)
    parser.add_argument("--keep", type=Path, help="work in DIR and keep the files")
    parser.add_argument("--stage", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        child(args.stage, *args.paths)
        return

    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        source = work / "perturbed_ethanol.xyz"
        start = time.perf_counter()
        generate(source, args.structures)
        print(
            f"generated {args.structures} structures in "
            f"{time.perf_counter() - start:.0f} s: "
            f"{source.stat().st_size / 1e6:.0f} MB of extxyz"
        )
        converted = stage("convert", source, work / "converted")
        size = sum(f.stat().st_size for f in (work / "converted").rglob("*.bin"))
        print(
            f"convert: {converted['seconds']:.0f} s, "
            f"peak RSS {converted['peak_rss_MB']:.0f} MB "
            f"(after imports {converted['rss_after_imports_MB']:.0f} MB); "
            f"arrays {size / 1e6:.0f} MB"
        )
        # in memory: 9 atoms x (types, positions, forces) + cell, pbc, energy per
        # structure, plus about 1 kB of Python and tensor objects per Structure
        in_memory = args.structures * (9 * (4 + 24 + 24) + 72 + 3 + 8 + 1000) / 1e6
        print(f"the same structures held in memory: about {in_memory:.0f} MB")
        iterated = stage("iterate", work / "converted")
        print(
            f"iterate: every structure in {iterated['read_all_seconds']:.0f} s, "
            f"{iterated['batches']} batches at "
            f"{iterated['batches_per_s_first_epoch']:.0f}/s "
            f"(first epoch), num_atoms() in {iterated['num_atoms_call_s']:.3f} s; "
            f"peak RSS {iterated['peak_rss_MB']:.0f} MB "
            f"(after imports {iterated['rss_after_imports_MB']:.0f} MB; at the end "
            f"{iterated.get('RssAnon', 0):.0f} MB anonymous + "
            f"{iterated.get('RssFile', 0):.0f} MB mapped file pages)"
        )


if __name__ == "__main__":
    main()
