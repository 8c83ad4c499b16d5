"""The copies of a model's weights a checkpoint holds: which one a model loads, and
how an upgrade changes all of them.

A checkpoint written by the training engine holds up to three copies of the weights:
the live ones (``model.state_dict``, where training continues), the best ones
(``trainer.state.best_model_state_dict``, what export and fine-tuning load) and the
EMA average (``trainer.state.ema``, floating-point tensors only, what a restart
continues to average). An upgrade step that renames, adds or reshapes a tensor must
change every copy: :func:`rename_parameters` and :func:`upgrade_weights` do.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import torch

Weights = Dict[str, torch.Tensor]
#: A change of one copy of the weights: the copy in, the changed copy out.
WeightsChange = Callable[[Weights], Weights]

#: Where the trainer's state keeps the other copies: (key, partial).
TRAINER_COPIES = (("best_model_state_dict", False), ("ema", True))


def model_weights(
    checkpoint: Dict[str, Any], context: str, key: str = "state_dict"
) -> Dict[str, torch.Tensor]:
    """The weights a model should load from ``checkpoint`` in ``context``: the live
    weights to restart, the best ones (EMA if used) to fine-tune or export, when the
    trainer section of an engine checkpoint has them."""
    trainer = checkpoint.get("trainer") or {}
    best = (trainer.get("state") or {}).get("best_model_state_dict")
    if context != "restart" and best is not None:
        return best
    return checkpoint["model"][key]


def stored_model_weights(checkpoint: Dict[str, Any]) -> List[Tuple[str, Any, bool]]:
    """Every copy of the model's weights ``checkpoint`` holds, as ``(dotted entry,
    weights, partial)``: the live ones, and those of the trainer's state (best model;
    EMA average, ``partial`` as it averages some tensors only) when present."""
    copies: List[Tuple[str, Any, bool]] = [
        ("model.state_dict", checkpoint["model"]["state_dict"], False)
    ]
    state = _trainer_state(checkpoint)
    for key, partial in TRAINER_COPIES:
        if state.get(key) is not None:
            copies.append((f"trainer.state.{key}", state[key], partial))
    return copies


def _trainer_state(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    state = (checkpoint.get("trainer") or {}).get("state") or {}
    return state if isinstance(state, dict) else {}


def upgrade_weights(
    checkpoint: Dict[str, Any], change: WeightsChange
) -> Dict[str, Any]:
    """``checkpoint`` with ``change`` applied to every copy of the model's weights
    (live, best, EMA; see :func:`stored_model_weights`), for an upgrade step that
    adds, removes or transforms tensors. ``change`` receives each copy as a dict of
    tensors and returns the new one. The EMA copy averages floating-point tensors
    only: ``change`` must not expect the others in it (use ``weights.get``), and
    whatever else it adds there is left out. Returns the checkpoint, changed in
    place."""
    checkpoint["model"]["state_dict"] = change(dict(checkpoint["model"]["state_dict"]))
    state = _trainer_state(checkpoint)
    for key, partial in TRAINER_COPIES:
        if state.get(key) is None:
            continue
        changed = change(dict(state[key]))
        if partial:
            changed = {k: v for k, v in changed.items() if v.is_floating_point()}
        state[key] = changed
    return checkpoint


def _renamed(name: str, renames: Mapping[str, str]) -> str:
    for old, new in renames.items():
        if name == old:
            return new
        if name.startswith(old + "."):
            return new + name[len(old) :]
    return name


def rename_parameters(
    checkpoint: Dict[str, Any], renames: Mapping[str, str]
) -> Dict[str, Any]:
    """``checkpoint`` with tensors renamed in every copy of the model's weights:
    ``renames`` maps old names to new ones, either of a tensor
    (``{"readout.weight": "head.weight"}``) or of a module, renaming all its tensors
    (``{"readout": "head"}`` renames ``readout.weight`` and ``readout.bias``). The
    order of the tensors is kept. Returns the checkpoint, changed in place.

    For an upgrade step of a model that renamed a parameter::

        def _v1_to_v2(checkpoint):
            return rename_parameters(checkpoint, {"readout": "head"})
    """

    def rename(weights: Weights) -> Weights:
        return {_renamed(name, renames): value for name, value in weights.items()}

    return upgrade_weights(checkpoint, rename)


def copies_out_of_step(checkpoint: Dict[str, Any]) -> List[str]:
    """How the other copies of the weights differ from the live ones in their names
    (the best copy has the same names, the EMA copy some of them); empty when they
    agree or when the checkpoint keeps no live ``state_dict``."""
    live: Optional[Mapping[str, Any]] = (checkpoint.get("model") or {}).get(
        "state_dict"
    )
    if not isinstance(live, Mapping):
        return []
    problems = []
    state = _trainer_state(checkpoint)
    for key, partial in TRAINER_COPIES:
        other = state.get(key)
        if not isinstance(other, Mapping):
            continue
        extra = [name for name in other if name not in live]
        missing = [] if partial else [name for name in live if name not in other]
        if extra or missing:
            problems.append(
                f"trainer.state.{key} has {_names(extra)} that model.state_dict "
                f"lacks and lacks {_names(missing)}"
            )
    return problems


def _names(names: List[str]) -> str:
    if not names:
        return "no tensor"
    shown = ", ".join(f"'{name}'" for name in names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")
