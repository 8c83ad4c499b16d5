"""The figure and table of ``docs/concepts/which-architecture.md``, from the
``results.json`` of one run of ``time_to_accuracy.py`` and one of ``recipes.py``
(kept in ``benchmarks/results/``).

Left: validation force MAE against wall-clock time of each tool of the
time-to-accuracy run; right: PET and SOAP-BPNN with their old and new defaults (the
recipes run). Both log-log. The table (Markdown, printed) gives the seconds and
epochs each tool took to reach each force MAE, its last validation and test force
MAE, and the milliseconds per energy + forces call of its model.

::

    .venv/bin/python benchmarks/which_architecture_figure.py
        benchmarks/results/time_to_accuracy.json benchmarks/results/recipes.json
        [-o docs/_static/which-architecture.png] [--thresholds 0.2,0.1,0.07,0.05]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
#: The systems whose MD speed the benchmarks measure.
SYSTEMS = ("ethanol", "water_box")
COLORS = {
    "soap_bpnn": "C0",
    "pet": "C1",
    "mace": "C2",
    "mace_run_train_f32": "C3",
    "mace_run_train": "C4",
}


def time_to_reach(result: Dict[str, Any], force: float) -> Optional[Tuple[float, int]]:
    """Seconds and epochs until the validation force MAE is ``force`` or less."""
    for seconds, epoch, value in zip(
        result["seconds"], result["epochs"], result["val_force"]
    ):
        if value <= force:
            return seconds, epoch + 1
    return None


def table(results: Dict[str, Dict[str, Any]], thresholds: List[float]) -> str:
    """The Markdown table of ``results`` (one row per tool)."""
    header = (
        ["tool"]
        + [f"to {x} eV/Å" for x in thresholds]
        + ["last val / test F", "ms ethanol", "ms water"]
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for tool, result in results.items():
        cells = [f"`{tool}`"]
        for threshold in thresholds:
            reached = time_to_reach(result, threshold)
            cells.append(
                "not reached"
                if reached is None
                else f"{reached[0]:.0f} s ({reached[1]})"
            )
        if result["epochs"]:
            # JSON keys are strings
            test = result["test_force"].get(str(result["epochs"][-1]))
            last = f"{result['val_force'][-1]:.3f}"
            cells.append(last if test is None else f"{last} / {test:.3f}")
        else:
            cells.append("-")
        speed = result["speed_ms"]
        cells += [f"{speed[n]:.0f}" if n in speed else "-" for n in SYSTEMS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(
    panels: List[Tuple[str, Dict[str, Dict[str, Any]]]], path: Path, x: float
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(panels), figsize=(11, 4.2), sharey=True)
    for axis, (title, results) in zip(axes, panels):
        for tool, result in results.items():
            # one colour per architecture, old defaults dashed
            base = tool.removesuffix("_old").removesuffix("_new")
            style = "o--" if tool.endswith("_old") else "o-"
            axis.plot(
                result["seconds"],
                result["val_force"],
                style,
                color=COLORS.get(base, "black"),
                label=tool,
                ms=3,
            )
        axis.axhline(x, color="grey", lw=0.8, ls=":")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_title(title)
        axis.set_xlabel("wall-clock time since start (s)")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(loc="best", fontsize="small")
    axes[0].set_ylabel("validation force MAE (eV/Å)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("time_to_accuracy", type=Path)
    parser.add_argument("recipes", type=Path)
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=ROOT / "docs" / "_static" / "which-architecture.png",
    )
    parser.add_argument("--thresholds", default="0.2,0.1,0.07,0.05")
    args = parser.parse_args()
    architectures = json.loads(args.time_to_accuracy.read_text())
    recipes = json.loads(args.recipes.read_text())
    thresholds = [float(x) for x in args.thresholds.split(",")]
    plot(
        [
            ("architectures, side by side", architectures),
            ("old and new defaults, side by side", recipes),
        ],
        args.output,
        thresholds[0],
    )
    print(table(architectures, thresholds))
    print()
    print(table(recipes, thresholds))


if __name__ == "__main__":
    main()
