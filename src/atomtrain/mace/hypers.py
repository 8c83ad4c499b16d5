"""What the MACE architecture refuses, said before anything is built: targets it
cannot learn and hypers mace-torch cannot build a network from."""

from __future__ import annotations

from typing import Dict, List

from atomtrain.data.info import DatasetInfo, TargetInfo
from atomtrain.errors import OptionsError, Problem, UserError

from .dependencies import o3
from .documentation import ModelHypers

OPTION = "architecture.model"


class UnsupportedTargetError(UserError):
    """A target MACE cannot learn, or a change of a trained model it cannot make."""


def check_targets(targets: Dict[str, TargetInfo]) -> None:
    """Refuse every target that is not an invariant scalar, naming all of them."""
    refused = [name for name, info in targets.items() if info.kind != "scalar"]
    if refused:
        raise UnsupportedTargetError(
            f"the mace architecture learns invariant scalar targets only; it cannot "
            f"learn {refused} (Cartesian and spherical targets need equivariant "
            "readouts it does not have)"
        )


def _irreps_problems(key: str, text: str, scalars_only: bool) -> List[Problem]:
    try:
        irreps = o3.Irreps(text)
    except (ValueError, AssertionError) as error:
        return [Problem(f"{OPTION}.{key}", f"not e3nn irreps ({error})", text)]
    if o3.Irrep("0e") not in [irrep for _, irrep in irreps]:
        return [Problem(f"{OPTION}.{key}", "needs invariant (0e) channels", text)]
    if scalars_only and any(irrep != o3.Irrep("0e") for _, irrep in irreps):
        return [Problem(f"{OPTION}.{key}", "may only hold 0e channels", text)]
    if len({mul for mul, _ in irreps}) != 1:
        return [
            Problem(
                f"{OPTION}.{key}",
                "every irrep needs the same number of channels "
                "(e.g. 32x0e + 32x1o), as mace-torch's interactions require",
                text,
            )
        ]
    return []


def check_hypers(hypers: ModelHypers, dataset_info: DatasetInfo) -> None:
    """Raise an :class:`OptionsError` listing every problem of ``hypers``."""
    problems = _irreps_problems("hidden_irreps", hypers["hidden_irreps"], False)
    problems += _irreps_problems("MLP_irreps", hypers["MLP_irreps"], True)
    angstrom = dataset_info.length_unit.lower() in ("angstrom", "a", "å")
    for key, on in (
        ("pair_repulsion", bool(hypers["pair_repulsion"])),
        ("distance_transform", hypers["distance_transform"] != "None"),
    ):
        if on and not angstrom:
            problems.append(
                Problem(
                    f"{OPTION}.{key}",
                    "MACE computes it from distances in Å; give the positions in "
                    "angstrom (the data's length unit is "
                    f"'{dataset_info.length_unit}')",
                )
            )
    if problems:
        raise OptionsError(problems)
