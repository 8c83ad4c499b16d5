"""Dataset sections of the options file, expanded to one canonical form.

Accepted forms (metatrain's grammar): a file name (``training_set: data.xyz``, an
``energy`` target read from it); a mapping with ``systems``, ``targets``, ``extra_data``
and ``indices``; or a list of such mappings. The expanded form of a section is::

    systems: {read_from: /abs/data.xyz, reader: ase, length_unit: angstrom}
    targets:
      energy: {quantity: energy, read_from: ..., reader: ase, key: energy, unit: eV,
               sample_kind: system, type: scalar, num_subtargets: 1, description: "",
               forces: {read_from: ..., reader: ase, key: forces, required: false},
               stress: {read_from: ..., reader: ase, key: stress, required: false},
               virial: false}
    extra_data: {}
    indices: null            # or the list of selected structures

Defaults: ``reader`` is inferred from the extension (``.mts`` is read by metatensor,
everything else by ASE); ``length_unit`` is ``angstrom`` (metatrain leaves it empty,
which exports a model without a length unit; ASE always gives positions in Å);
``unit`` is empty; ``key`` is the target name without its ``mtt::`` prefix;
``quantity`` is ``energy`` for ``energy`` and its variants and empty otherwise.

Targets and their gradients are expanded by :mod:`.target_sections`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from ..data.splits import read_index_file
from ..data.targets import target_name_problem
from ..data.units import unit_problem, units_agree
from ..errors import Problem
from .files import expand_reader, resolve_file, unknown_keys
from .target_sections import TARGET_KEYS, expand_fields, expand_target

SECTION_KEYS = ("systems", "targets", "extra_data", "indices")
SYSTEMS_KEYS = ("read_from", "reader", "length_unit")
DEFAULT_LENGTH_UNIT = "angstrom"

Section = Dict[str, Any]


def expand_dataset_section(
    value: Any, path: str, base_dir: Path, require_targets: bool = True
) -> Tuple[List[Section], List[Problem]]:
    """Every dataset section in ``value`` (found at ``path``) in the expanded form, with
    all the problems found. Relative file names are resolved against ``base_dir``."""
    if isinstance(value, str):
        value = {"systems": value, "targets": {"energy": value}}
    if isinstance(value, dict):
        items = [(path, value)]
    elif isinstance(value, list) and value:
        items = [(f"{path}[{i}]", item) for i, item in enumerate(value)]
    else:
        what = "a file name, a dataset section or a non-empty list of sections"
        return [], [Problem(path, f"expected {what}", value)]
    problems: List[Problem] = []
    sections = []
    for where, item in items:
        if not isinstance(item, dict):
            problems.append(Problem(where, "expected a dataset section", item))
            continue
        sections.append(_expand_one(item, where, base_dir, require_targets, problems))
    if not problems:
        problems += units_agree([(w, s) for (w, _), s in zip(items, sections)])
    return sections, problems


def located_sections(sections: List[Section], path: str) -> List[Tuple[str, Section]]:
    """Expanded ``sections`` found at ``path``, each with its own dotted path:
    ``path`` for a single section, ``path[i]`` in a list of several."""
    if len(sections) == 1:
        return [(path, sections[0])]
    return [(f"{path}[{i}]", section) for i, section in enumerate(sections)]


def options_sections(options: Dict[str, Any]) -> List[Tuple[str, Section]]:
    """Every expanded dataset section of validated ``options`` (training,
    validation and test sets), each with its dotted path."""
    located = []
    for key in ("training_set", "validation_set", "test_set"):
        value = options.get(key)
        if isinstance(value, list):
            located += located_sections(value, key)
    return located


def expand_split_value(
    value: Any, path: str, base_dir: Path
) -> Tuple[Union[float, List[Section]], List[Problem]]:
    """A ``validation_set``/``test_set`` value: a fraction of the training set in
    [0, 1), returned as a float, or dataset sections, expanded."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0.0 <= value < 1.0:
            return value, [
                Problem(path, "a fraction of the training set must be in [0, 1)", value)
            ]
        return float(value), []
    return expand_dataset_section(value, path, base_dir)


def _expand_one(
    raw: Dict[str, Any],
    path: str,
    base_dir: Path,
    require_targets: bool,
    problems: List[Problem],
) -> Section:
    problems += unknown_keys(raw, SECTION_KEYS, path)
    systems = _expand_systems(raw.get("systems"), f"{path}.systems", base_dir, problems)
    read_from = systems.get("read_from")
    targets: Dict[str, Any] = {}
    raw_targets = raw.get("targets")
    if raw_targets is None and require_targets:
        problems.append(Problem(f"{path}.targets", "required: the targets to read"))
    elif raw_targets is not None and not isinstance(raw_targets, dict):
        problems.append(Problem(f"{path}.targets", "expected a mapping", raw_targets))
    else:
        for name, target in (raw_targets or {}).items():
            where = f"{path}.targets.{name}"
            message = target_name_problem(name)
            if message is not None:
                problems.append(Problem(where, message))
                continue
            targets[name] = expand_target(
                name, target, where, read_from, base_dir, problems
            )
    extra = raw.get("extra_data") or {}
    if not isinstance(extra, dict):
        problems.append(Problem(f"{path}.extra_data", "expected a mapping", extra))
        extra = {}
    extra_data = {
        str(name): expand_fields(
            str(name),
            body,
            f"{path}.extra_data.{name}",
            read_from,
            base_dir,
            problems,
            TARGET_KEYS,
            "",
        )
        for name, body in extra.items()
    }
    indices = _expand_indices(raw.get("indices"), f"{path}.indices", base_dir, problems)
    return {
        "systems": systems,
        "targets": targets,
        "extra_data": extra_data,
        "indices": indices,
    }


def _expand_systems(
    raw: Any, path: str, base_dir: Path, problems: List[Problem]
) -> Dict[str, Any]:
    if isinstance(raw, str):
        raw = {"read_from": raw}
    if not isinstance(raw, dict) or "read_from" not in raw:
        problems.append(
            Problem(
                path, "required: a file name or {read_from, reader, length_unit}", raw
            )
        )
        return {"read_from": None, "reader": None, "length_unit": DEFAULT_LENGTH_UNIT}
    problems += unknown_keys(raw, SYSTEMS_KEYS, path)
    read_from = resolve_file(raw["read_from"], f"{path}.read_from", base_dir, problems)
    reader = expand_reader(raw.get("reader"), read_from, f"{path}.reader", problems)
    if reader == "metatensor":
        problems.append(
            Problem(
                f"{path}.reader",
                "metatensor files hold targets, not structures; read the systems "
                "with the 'ase' reader",
            )
        )
    length_unit = raw.get("length_unit")
    length_unit = DEFAULT_LENGTH_UNIT if length_unit is None else length_unit
    problems += unit_problem(length_unit, f"{path}.length_unit", "length")
    return {"read_from": read_from, "reader": reader, "length_unit": length_unit}


def _expand_indices(
    raw: Any, path: str, base_dir: Path, problems: List[Problem]
) -> Optional[List[int]]:
    if raw is None:
        return None
    if isinstance(raw, str):
        file = resolve_file(raw, path, base_dir, problems)
        if file is None or not Path(file).is_file():
            return None
        try:
            raw = read_index_file(Path(file))
        except ValueError as error:
            problems.append(Problem(path, str(error)))
            return None
    if not isinstance(raw, list):
        problems.append(
            Problem(path, "expected a list of structure indices or a file name", raw)
        )
        return None
    bad = [i for i in raw if isinstance(i, bool) or not isinstance(i, int) or i < 0]
    if bad:
        problems.append(Problem(path, "indices must be integers ≥ 0", bad[0]))
        return None
    if len(set(raw)) != len(raw):
        twice = next(i for i in raw if raw.count(i) > 1)
        problems.append(Problem(path, f"index {twice} is listed twice"))
    return list(raw)
