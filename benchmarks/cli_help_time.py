"""Wall time of ``atomtrain --help``: the median over several runs, in milliseconds.

``atomtrain --help`` must not import torch, so it should take well under a second.
Python's own start-up (``python -c pass``) is measured alongside for comparison.

Usage: ``python benchmarks/cli_help_time.py [--runs N]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from typing import List


def median_wall_time(command: List[str], runs: int) -> float:
    """Median wall time of ``command`` over ``runs`` runs, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=11, help="runs to take the median of"
    )
    args = parser.parse_args()

    # one run first so that the file system cache is warm for every measured run
    median_wall_time([sys.executable, "-m", "atomtrain", "--help"], 1)
    python = median_wall_time([sys.executable, "-c", "pass"], args.runs)
    help_time = median_wall_time(
        [sys.executable, "-m", "atomtrain", "--help"], args.runs
    )
    print(f"python -c pass      : {1000 * python:7.1f} ms (median of {args.runs})")
    print(f"atomtrain --help    : {1000 * help_time:7.1f} ms (median of {args.runs})")


if __name__ == "__main__":
    main()
