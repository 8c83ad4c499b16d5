"""What the training, validation and test sets must agree on, checked on the expanded
options before anything is read or written.

- Units: one length unit, and one unit per target name, in every section
  (:func:`atomtrain.data.units.units_agree`).
- Targets: every validation section holds every target of the training set (the
  validation loss and metrics are computed on each of them), and a target named in
  several sets has the same layout (type, per-atom or per-structure, number of
  subtargets) everywhere. Test sets may hold fewer targets: they are evaluated on
  what they hold.

Problems name the dotted key and the files of the sections that disagree.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from ..data.units import units_agree
from ..errors import Problem
from .datasets import located_sections

#: The keys of a target section that fix its layout.
LAYOUT_KEYS = ("type", "sample_kind", "num_subtargets")

Located = List[Tuple[str, Dict[str, Any]]]


def sets_agree(options: Dict[str, Any]) -> List[Problem]:
    """Every problem of units and targets between the dataset sections of the
    expanded ``options`` (sets given as fractions have nothing to disagree on)."""
    sets: Dict[str, Located] = {}
    for key in ("training_set", "validation_set", "test_set"):
        value = options.get(key)
        if isinstance(value, list):
            sets[key] = located_sections(value, key)
    everything = [item for located in sets.values() for item in located]
    problems = units_agree(everything)
    # a set given as a fraction of the training set has no sections of its own
    training = sets.get("training_set", [])
    for key in ("validation_set", "test_set"):
        for path, section in sets.get(key, []):
            problems += _targets_agree(path, section, training, key == "validation_set")
    return problems


def _targets_agree(
    path: str, section: Dict[str, Any], training: Located, complete: bool
) -> List[Problem]:
    problems = []
    # a section whose expansion failed may have no targets (reported already)
    held = section.get("targets", {})
    for name, (where, trained) in _training_targets(training).items():
        source = f"'{where[1]}' ({where[0]})"
        if name not in held:
            if complete:
                problems.append(
                    Problem(
                        f"{path}.targets",
                        f"'{section['systems']['read_from']}' has no target '{name}', "
                        f"which the training set trains on ({source}): the validation "
                        f"set is evaluated on every target; add '{name}' to it, or "
                        "validate on a fraction of the training set",
                    )
                )
            continue
        for key in LAYOUT_KEYS:
            if held[name][key] != trained[key]:
                problems.append(
                    Problem(
                        f"{path}.targets.{name}.{key}",
                        f"differs from {trained[key]!r} in the training set "
                        f"({source}): a target has one layout in every set",
                        held[name][key],
                    )
                )
    return problems


def _training_targets(
    training: Located,
) -> Dict[str, Tuple[Tuple[str, str], Dict[str, Any]]]:
    """Each target of the training set with the first section that holds it
    (its dotted path and its file)."""
    found: Dict[str, Tuple[Tuple[str, str], Dict[str, Any]]] = {}
    for path, section in training:
        file = str(section["systems"]["read_from"])
        for name, target in section.get("targets", {}).items():
            found.setdefault(name, ((path, file), target))
    return found
