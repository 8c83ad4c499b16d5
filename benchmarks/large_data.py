"""Large data end to end: generate, convert, and train from disk and from memory.

Generates the largest requested number of structures (perturbed copies of the shared
ethanol frames, 9 atoms, and of the carbon frames as cells of 4, 16 and 32 atoms: two
molecules for one crystal), streamed into one extended XYZ file; converts it with
``atomtrain convert`` (structures/s and bytes on disk per structure); then, for each
size, trains PET (small hypers) and SOAP-BPNN for a fixed number of steps from the
on-disk dataset and, up to ``--memory-up-to`` structures, from the extended XYZ file
read into memory. Each training runs in its own process, which reports its peak
resident memory (``ru_maxrss``), the time to set up (reading, statistics, edges) and
the throughput of the measured steps (after warm-up steps). The same is run for 2
processes under torchrun (gloo) at ``--distributed-size``.

The training goes through the product's own path up to the first step
(``validate_options``, ``load_datasets``, the architecture, ``TrainingRun``) and then
runs the given number of steps of the engine's loop (``TrainingRun._step``), since
an epoch of 10^5 structures takes far longer than the measure needs.

    .venv/bin/python benchmarks/large_data.py [--sizes 10000 100000 1000000]
        [--steps 60] [--warmup 10] [--memory-up-to 100000] [--repeats 1] [--work DIR]
        [--largest-architectures soap_bpnn] [--distributed-architectures soap_bpnn]

Measured on 2026-12-05 on the development machine (2 cores, nothing else running),
in one run of ``--sizes 10000 100000 1000000 --steps 40 --warmup 10
--largest-architectures soap_bpnn pet --work DIR`` (21 min; DIR already held the
generated structures and the converted 10^4 and 10^6 datasets, so the 10^5 dataset
was the one converted in this run). Conversion: 1965 structures/s, 717 bytes per
structure on disk (the 10^6 dataset took 3517 s, 284 structures/s, earlier that day
with four other jobs running). Training, structures/s (one process; 2 processes
under torchrun, gloo) and peak resident memory of the process (the largest of the
processes)::

                         10^4            10^5                      10^6
    PET disk           28.2  1573 MB   25.1  1714 MB (2: 50.2)   27.0  1676 MB
    PET memory         26.8  1633 MB   23.8  2932 MB (2: 49.5)
    SOAP-BPNN disk     83.1   870 MB   78.1   951 MB (2: 160.2)  80.8   957 MB
    SOAP-BPNN memory   85.6   961 MB   80.7  2081 MB (2: 149.5)

From disk at 10^6 the peak is 103 MB (PET) and 87 MB (SOAP-BPNN) above the run at
10^4; at 10^5, disk against memory is 1.05 (PET) and 0.97 (SOAP-BPNN) times the
throughput, 1.01 and 1.07 with 2 processes. Setup (reading the header, statistics,
counting the edges of every structure) took 243 s (SOAP-BPNN) and 302 s (PET) at 10^6.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ETHANOL = ROOT / "examples/data/ethanol_gfn2_1000.xyz"
CARBON = ROOT / "tests/resources/carbon_reduced_100.xyz"
PET_HYPERS = {
    "d_pet": 64,
    "d_head": 64,
    "d_node": 128,
    "d_feedforward": 128,
    "num_heads": 4,
    "num_attention_layers": 1,
    "num_gnn_layers": 2,
}
#: carbon cells repeated to mix sizes: 4, 16 and 32 atoms
REPEATS = [(1, 1, 1), (2, 2, 1), (2, 2, 2)]


# ---- generation ------------------------------------------------------------------


def _sources() -> List[Dict[str, Any]]:
    import ase.io

    sources = []
    for atoms in ase.io.read(ETHANOL, ":"):
        sources.append(
            {
                "numbers": atoms.numbers,
                "positions": atoms.positions,
                "cell": None,
                "energy": atoms.get_potential_energy(),
                "forces": atoms.get_forces(),
            }
        )
    carbon = []
    for atoms in ase.io.read(CARBON, ":"):
        for repeat in REPEATS:
            big = atoms.repeat(repeat)
            copies = int(np.prod(repeat))
            carbon.append(
                {
                    "numbers": big.numbers,
                    "positions": big.positions,
                    "cell": big.cell.array,
                    "energy": atoms.get_potential_energy() * copies,
                    "forces": np.tile(atoms.arrays["force"], (copies, 1)),
                }
            )
    return [sources, carbon]


def _frame(source: Dict[str, Any], rng: np.random.Generator) -> str:
    positions = source["positions"] + rng.normal(
        scale=0.01, size=(len(source["numbers"]), 3)
    )
    energy = source["energy"] + rng.normal(scale=1e-3 * len(source["numbers"]))
    if source["cell"] is None:
        header = 'pbc="F F F"'
    else:
        lattice = " ".join(f"{v:.8f}" for v in source["cell"].reshape(-1))
        header = f'Lattice="{lattice}" pbc="T T T"'
    symbols = {1: "H", 6: "C", 8: "O"}
    rows = np.concatenate([positions, source["forces"]], axis=1)
    lines = [
        f"{symbols[int(z)]} " + " ".join(f"{v:.8f}" for v in row)
        for z, row in zip(source["numbers"], rows)
    ]
    return (
        f"{len(lines)}\n{header} Properties=species:S:1:pos:R:3:forces:R:3 "
        f"energy={energy:.10f}\n" + "\n".join(lines) + "\n"
    )


def generate(path: Path, count: int, seed: int = 0) -> float:
    """Write ``count`` structures to ``path`` (two ethanol for one carbon), chunk by
    chunk; the seconds taken."""
    start = time.perf_counter()
    ethanol, carbon = _sources()
    rng = np.random.default_rng(seed)
    with open(path, "w") as file:
        for first in range(0, count, 10_000):
            chunk = []
            for i in range(first, min(first + 10_000, count)):
                pool = carbon if i % 3 == 2 else ethanol
                chunk.append(_frame(pool[int(rng.integers(len(pool)))], rng))
            file.write("".join(chunk))
    return time.perf_counter() - start


def head(source: Path, target: Path, count: int) -> None:
    """The first ``count`` structures of the extended XYZ ``source``, copied."""
    with open(source) as reader, open(target, "w") as writer:
        for _ in range(count):
            atoms = reader.readline()
            writer.write(atoms)
            for _ in range(int(atoms) + 1):
                writer.write(reader.readline())


# ---- measured commands ------------------------------------------------------------


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run(command: List[str], cwd: Path, env: Dict[str, str] | None = None) -> str:
    result = subprocess.run(
        command,
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )
    if result.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{result.stderr[-4000:]}")
    return result.stdout


def convert(source: Path, output: Path) -> Dict[str, float]:
    """``atomtrain convert`` of ``source`` in a subprocess: time, rate, size."""
    start = time.perf_counter()
    command = [sys.executable, "-m", "atomtrain", "convert", str(source), str(output)]
    command += ["--energy", "energy", "--forces", "forces"]
    _run(command, output.parent)
    seconds = time.perf_counter() - start
    count = json.loads((output / "header.json").read_text())["num_structures"]
    size = sum(p.stat().st_size for p in output.rglob("*") if p.is_file())
    return {
        "structures": count,
        "seconds": seconds,
        "structures_per_s": count / seconds,
        "bytes_per_structure": size / count,
    }


def options_file(path: Path, architecture: str, data: str, workers: int) -> Path:
    import yaml

    model = PET_HYPERS if architecture == "pet" else {}
    section: Dict[str, Any] = {"systems": data}
    if not data.endswith("ds"):
        section["targets"] = {"energy": {"unit": "eV"}}
    options = {
        "architecture": {
            "name": architecture,
            "model": model,
            "training": {"batch_size": 16, "num_workers": workers},
        },
        "base_precision": 32,
        "seed": 1,
        "training_set": section,
        "validation_set": 0.0,
        "test_set": 0.0,
    }
    path.write_text(yaml.safe_dump(options))
    return path


def train(options: Path, steps: int, warmup: int, run_dir: Path) -> Dict[str, float]:
    """Set up the run of ``options`` as ``atomtrain train`` does, then time
    ``steps`` steps of the loop (the first ``warmup`` not counted)."""
    import torch

    from atomtrain.architectures.discovery import import_architecture
    from atomtrain.data.loading import load_datasets
    from atomtrain.options import load_options, validate_options
    from atomtrain.training import distributed
    from atomtrain.training.baseline import without_baseline
    from atomtrain.training.loop import TrainingRun
    from atomtrain.training.signals import StopRequest

    torch.set_num_threads(1)
    start = time.perf_counter()
    raw, file = load_options(options, [])
    expanded = validate_options(raw, file, options.parent)
    architecture = import_architecture(expanded["architecture"]["name"])
    devices = distributed.initialize([torch.device("cpu")])
    torch.manual_seed(expanded["seed"])
    data = load_datasets(expanded)
    model = architecture.__model__(expanded["architecture"]["model"], data.dataset_info)
    trainer = architecture.__trainer__(expanded["architecture"]["training"])
    run = TrainingRun(
        trainer, model, torch.float32, devices, data.training, data.validation, run_dir
    )
    setup = time.perf_counter() - start
    # the peak so far is that of reading, statistics and edges, which is what may
    # grow with the dataset; a step's peak depends on the batch drawn (its atoms
    # and pairs), not on how many structures the dataset holds
    setup_rss = _peak_rss_mb()
    plan = run.batches.plan(run.train_sets, run.state.seed, 0)[: warmup + steps]
    structures = 0
    with without_baseline(model), StopRequest() as stop:
        model.train()
        collated = run.batches.collated(plan, 0, True)
        for number, (step, first) in enumerate(zip(plan, collated)):
            if number == warmup:
                distributed.barrier()
                timed = time.perf_counter()
                cpu = time.process_time()
            run._step(0, number, step, stop, first)
            if number >= warmup:
                structures += len(step.indices)
    cpu_seconds = time.process_time() - cpu
    distributed.barrier()
    seconds = time.perf_counter() - timed
    result = {
        "structures": len(data.training[0]),
        "setup_s": setup,
        "steps_per_s": steps / seconds,
        "structures_per_s": structures / seconds,
        # the process's own CPU time: what the data path costs, whatever else runs
        # on the machine at the same time
        "structures_per_cpu_s": structures / cpu_seconds,
        "setup_peak_rss_mb": setup_rss,
        "peak_rss_mb": _peak_rss_mb(),
        "rank": distributed.rank(),
    }
    distributed.shutdown()
    return result


def measure_training(
    work: Path, architecture: str, data: str, args: argparse.Namespace, ranks: int = 1
) -> Dict[str, Any]:
    name = f"{architecture}-{Path(data).parent.name}-{Path(data).name}-{ranks}"
    options = options_file(work / f"{name}.yaml", architecture, data, args.workers)
    report = work / f"{name}.json"
    script = [str(Path(__file__).resolve()), "_train", str(options), str(report)]
    script += ["--steps", str(args.steps), "--warmup", str(args.warmup)]
    if ranks == 1:
        _run([sys.executable, *script], work)
        return json.loads(report.read_text())
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    _run([*launcher, "--nproc_per_node", str(ranks), *script], work)
    reports = [json.loads(p.read_text()) for p in sorted(work.glob(f"{name}.json.*"))]
    return {
        "structures": reports[0]["structures"],
        "setup_s": max(r["setup_s"] for r in reports),
        "steps_per_s": min(r["steps_per_s"] for r in reports),
        # each process counts the structures of the global batches: the run's rate
        "structures_per_s": min(r["structures_per_s"] for r in reports),
        "structures_per_cpu_s": min(r["structures_per_cpu_s"] for r in reports),
        "setup_peak_rss_mb": max(r["setup_peak_rss_mb"] for r in reports),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in reports),
    }


# ---- the whole benchmark -----------------------------------------------------------


def _median_run(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The run of median throughput, with every run's rates and the highest peak."""
    ordered = sorted(runs, key=lambda run: run["structures_per_s"])
    median = dict(ordered[len(ordered) // 2])
    median["all_structures_per_s"] = [run["structures_per_s"] for run in runs]
    median["all_structures_per_cpu_s"] = [run["structures_per_cpu_s"] for run in runs]
    median["peak_rss_mb"] = max(run["peak_rss_mb"] for run in runs)
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000]
    )
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument(
        "--repeats", type=int, default=1, help="alternating disk/memory runs per size"
    )
    parser.add_argument("--memory-up-to", type=int, default=100_000)
    parser.add_argument("--distributed-size", type=int, default=100_000)
    parser.add_argument("--architectures", nargs="+", default=["pet", "soap_bpnn"])
    parser.add_argument(
        "--largest-architectures",
        nargs="+",
        default=None,
        help="architectures trained at the largest size (default: all)",
    )
    parser.add_argument(
        "--distributed-architectures",
        nargs="+",
        default=None,
        help="architectures trained on 2 processes (default: all)",
    )
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="atomtrain-large-"))
    work.mkdir(parents=True, exist_ok=True)
    results: Dict[str, Any] = {"sizes": args.sizes, "steps": args.steps}
    largest = max(args.sizes)
    source = work / f"generated-{largest}.xyz"
    if not source.exists():
        results["generate_s"] = generate(source, largest)
    for size in args.sizes:
        xyz = source if size == largest else work / f"generated-{size}.xyz"
        if not xyz.exists():
            head(source, xyz, size)
        dataset = work / f"data-{size}" / "ds"
        if not dataset.exists():
            dataset.parent.mkdir(exist_ok=True)
            results[f"convert-{size}"] = convert(xyz, dataset)
            print(
                json.dumps({f"convert-{size}": results[f"convert-{size}"]}), flush=True
            )
        architectures = args.architectures
        if size == largest and args.largest_architectures is not None:
            architectures = args.largest_architectures
        for architecture in architectures:
            runs = {"disk": str(dataset)}
            if size <= args.memory_up_to:
                runs["memory"] = str(xyz)
            # disk and memory alternate, --repeats times: both see the same load
            measured: Dict[str, List[Dict[str, Any]]] = {kind: [] for kind in runs}
            for _ in range(args.repeats):
                for kind, data in runs.items():
                    run = measure_training(work, architecture, data, args)
                    measured[kind].append(run)
                    print(
                        json.dumps({f"{architecture}-{kind}-{size}": run}), flush=True
                    )
            for kind, data in runs.items():
                key = f"train-{architecture}-{kind}-{size}"
                results[key] = _median_run(measured[kind])
                print(json.dumps({key: results[key]}), flush=True)
                distributed = args.distributed_architectures or args.architectures
                if size == args.distributed_size and architecture in distributed:
                    key = f"train-{architecture}-{kind}-{size}-2proc"
                    results[key] = measure_training(work, architecture, data, args, 2)
                    print(json.dumps({key: results[key]}), flush=True)
    (work / "results.json").write_text(json.dumps(results, indent=1))
    print(f"results in {work / 'results.json'}")
    if args.work is None:
        shutil.rmtree(work)


def train_entry() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("options", type=Path)
    parser.add_argument("report", type=Path)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args(sys.argv[2:])
    rank = os.environ.get("RANK")
    run_dir = args.report.with_suffix(f".run{rank or ''}")
    result = train(args.options, args.steps, args.warmup, run_dir)
    report = args.report if rank is None else Path(f"{args.report}.{rank}")
    report.write_text(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_train":
        train_entry()
    else:
        main()
