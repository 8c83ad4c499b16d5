"""The trainer hypers that name targets, checked against the dataset sections of the
expanded options before any run directory exists.

- ``loss``: every target it names exists in the training set, every gradient it
  names is one the target's sections read, its keys and values are valid
  (:func:`atomtrain.training.losses.resolve_loss` on the targets the sections
  describe), and a ``masked_*`` loss finds its boolean mask ``<target>_mask`` in the
  ``extra_data`` of every training and validation section holding the target.
- ``per_structure_targets``: every name is a target of the training set.

Whether an optional gradient (an energy's forces or stress read when the file has
them) is in the files is known only once they are read: ``atomtrain train`` checks
the loss again then, still before the run directory exists.

Architectures without these hypers (composition, llpr) have nothing to check.
"""

from __future__ import annotations

from typing import Any, Dict, List

from ..errors import OptionsError, Problem, did_you_mean
from ..training.losses import LossTerm, resolve_loss
from .datasets import located_sections
from .target_sections import possible_targets

#: Where users write the trainer hypers, for error messages.
TRAINING = "architecture.training"


def trainer_target_problems(options: Dict[str, Any]) -> List[Problem]:
    """Every problem of the ``loss`` and ``per_structure_targets`` of the expanded
    ``options`` against their dataset sections (none when the training set has no
    sections)."""
    training = (options.get("architecture") or {}).get("training") or {}
    sections = options.get("training_set")
    if not isinstance(sections, list):
        return []
    targets = possible_targets(sections)
    problems: List[Problem] = []
    if "loss" in training:
        try:
            terms = resolve_loss(training["loss"], targets)
        except OptionsError as error:
            problems += error.problems
        else:
            problems += _missing_masks(terms, options)
    for index, name in enumerate(training.get("per_structure_targets") or []):
        if name not in targets:
            problems.append(
                Problem(
                    f"{TRAINING}.per_structure_targets[{index}]",
                    "not a target of the training set"
                    + did_you_mean(str(name), targets),
                    name,
                )
            )
    return problems


def _missing_masks(terms: List[LossTerm], options: Dict[str, Any]) -> List[Problem]:
    """A section of the training or validation set that holds the target of a
    masked loss without its mask."""
    located = []
    for key in ("training_set", "validation_set"):
        value = options.get(key)
        if isinstance(value, list):
            located += located_sections(value, key)
    problems = []
    for term in terms:
        if not term.masked:
            continue
        mask = f"{term.target}_mask"
        for path, section in located:
            if term.target in section["targets"] and mask not in section["extra_data"]:
                problems.append(
                    Problem(
                        f"{path}.extra_data",
                        f"the '{term.type}' loss of '{term.target}' "
                        f"({TRAINING}.loss.{term.target}.type) reads a boolean mask "
                        f"'{mask}' from extra_data, which this section lacks",
                    )
                )
    return problems
