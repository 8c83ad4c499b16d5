"""Which modules of a model are its heads, and initialising new heads from old ones.

A model declares its per-target heads by implementing
:class:`atomtrain.utils.abc.WithHeads` (``head_modules()``: target name → the module
that turns the shared representation into that target). The rest of the model is the
backbone.
"""

from __future__ import annotations

from typing import Dict, List, Optional

import torch

from ..errors import OptionsError, Problem, UserError
from ..utils.abc import WithHeads
from .settings import OPTION


def head_modules(model: torch.nn.Module) -> Optional[Dict[str, torch.nn.Module]]:
    """The model's heads by target name, or None when it declares none."""
    if isinstance(model, WithHeads):
        return dict(model.head_modules())
    return None


def head_prefixes(model: torch.nn.Module) -> Dict[str, str]:
    """Target name → dotted name of its head module within ``model``."""
    heads = head_modules(model) or {}
    names = {id(module): name for name, module in model.named_modules()}
    return {target: names[id(m)] for target, m in heads.items() if id(m) in names}


def require_heads(model: torch.nn.Module, why: str) -> Dict[str, torch.nn.Module]:
    """The heads of ``model``; a :class:`UserError` saying ``why`` they are needed
    when the architecture declares none."""
    heads = head_modules(model)
    if not heads:
        raise UserError(
            f"{why}, but the architecture {type(model).__qualname__} declares no "
            "heads (it does not implement atomtrain.utils.abc.WithHeads)"
        )
    return heads


def inherit_heads(
    model: torch.nn.Module,
    mapping: Dict[str, str],
    old_targets: List[str],
    new_targets: List[str],
) -> None:
    """Copy the weights of head ``old`` into head ``new`` for each ``new: old``.

    ``new`` must be a target of the fine-tuning data that the pretrained model
    lacks, ``old`` a target of the pretrained model, and their heads of the same
    shape."""
    if not mapping:
        return
    heads = require_heads(model, f"{OPTION}.inherit_heads copies heads")
    problems = []
    for new, old in mapping.items():
        where = f"{OPTION}.inherit_heads.{new}"
        if new not in new_targets:
            problems.append(
                Problem(
                    where,
                    "not a new target of the fine-tuning data (new targets: "
                    f"{', '.join(new_targets) or 'none'})",
                )
            )
        elif old not in old_targets:
            problems.append(
                Problem(
                    where,
                    "the pretrained model has no target of this name; it has "
                    + ", ".join(old_targets),
                    old,
                )
            )
        else:
            problem = _copy(heads[old], heads[new], where)
            if problem is not None:
                problems.append(problem)
    if problems:
        raise OptionsError(problems)


def _copy(
    source: torch.nn.Module, target: torch.nn.Module, where: str
) -> Optional[Problem]:
    state = source.state_dict()
    shapes = {k: tuple(v.shape) for k, v in target.state_dict().items()}
    if shapes != {k: tuple(v.shape) for k, v in state.items()}:
        return Problem(
            where,
            "the two heads have different shapes (a different number of "
            "properties?) and cannot be copied",
        )
    target.load_state_dict(state)
    return None
