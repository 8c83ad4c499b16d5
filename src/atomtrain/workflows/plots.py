"""Parity plots and error histograms of an evaluation, written as PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import torch

from ..files import atomic_output
from .evaluate import Evaluation

Pairs = Dict[str, Tuple[np.ndarray, np.ndarray, str]]


def _collect(evaluation: Evaluation) -> Pairs:
    """``{quantity: (labels, predictions, unit)}`` for every labelled target and its
    forces, energies per atom."""
    pairs: Dict[str, Tuple[List[np.ndarray], List[np.ndarray], str]] = {}
    for batch, predictions in zip(evaluation.batches, evaluation.predictions):
        atoms = torch.tensor([len(s) for s in batch.systems], dtype=torch.float64)
        for name, labels in batch.targets.items():
            if name not in predictions:
                continue
            label_block = labels.block(0)
            predicted_block = predictions[name].block(0)
            y = label_block.values.detach().to(torch.float64)
            p = predicted_block.values.detach().to(torch.float64)
            unit = evaluation.units.get(f"{name}.rmse", "")
            if "atom" not in label_block.samples.names and "/atom" in unit:
                y, p = y / atoms.reshape(-1, 1), p / atoms.reshape(-1, 1)
            entry = pairs.setdefault(name, ([], [], unit))
            entry[0].append(y.reshape(-1).numpy())
            entry[1].append(p.reshape(-1).numpy())
            if "positions" in label_block.gradients_list() and (
                "positions" in predicted_block.gradients_list()
            ):
                forces = pairs.setdefault(
                    f"{name}.forces",
                    ([], [], evaluation.units.get(f"{name}.forces.rmse", "")),
                )
                y_f = -label_block.gradient("positions").values.detach()
                p_f = -predicted_block.gradient("positions").values.detach()
                forces[0].append(y_f.to(torch.float64).reshape(-1).numpy())
                forces[1].append(p_f.to(torch.float64).reshape(-1).numpy())
    result: Pairs = {}
    for key, (labels_list, predicted_list, unit) in pairs.items():
        y_all, p_all = np.concatenate(labels_list), np.concatenate(predicted_list)
        keep = np.isfinite(y_all) & np.isfinite(p_all)
        result[key] = (y_all[keep], p_all[keep], unit)
    return result


def parity_plot(evaluation: Evaluation, path: Path, title: str = "") -> Path:
    """One column per quantity: parity (prediction against label) on top, the error
    histogram below. Needs the evaluation's predictions (``keep_predictions``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = _collect(evaluation)
    if not pairs:
        raise ValueError("the evaluation holds no labelled prediction to plot")
    figure, axes = plt.subplots(
        2, len(pairs), figsize=(4.2 * len(pairs), 7.5), squeeze=False
    )
    for column, (name, (labels, predicted, unit)) in enumerate(pairs.items()):
        top, bottom = axes[0, column], axes[1, column]
        low, high = (
            float(min(labels.min(), predicted.min())),
            float(max(labels.max(), predicted.max())),
        )
        top.plot([low, high], [low, high], color="0.6", linewidth=1)
        top.scatter(labels, predicted, s=4, alpha=0.5)
        # energies near -1e4 would read as "+ -1.078e4" offsets: show them whole
        top.ticklabel_format(useOffset=False)
        errors = predicted - labels
        rmse = float(np.sqrt(np.mean(errors**2)))
        top.set_title(f"{name}\nRMSE {rmse:.4g} {unit}".rstrip())
        top.set_xlabel(f"label [{unit}]" if unit else "label")
        top.set_ylabel(f"prediction [{unit}]" if unit else "prediction")
        bottom.hist(errors, bins=50)
        bottom.set_xlabel(f"error [{unit}]" if unit else "error")
        bottom.set_ylabel("count")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    try:
        with atomic_output(path, "-p") as temporary:
            figure.savefig(temporary, dpi=120, format=path.suffix.lstrip(".") or "png")
    finally:
        plt.close(figure)
    return path
