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

Targets and their gradients are expanded by :mod:`.target_sections`. A ``read_from``
naming a directory written by ``atomtrain convert`` is an on-disk dataset, whose
sections are expanded from its header by :mod:`.disk_sections`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from ..architectures.typeinfo import field_types, typed_defaults
from ..data.ondisk import is_disk_dataset
from ..data.splits import read_index_file
from ..data.targets import target_name_problem
from ..data.units import unit_problem, units_agree
from ..errors import Problem
from .disk_sections import (
    DISK_READER,
    disk_length_unit,
    expand_disk_entries,
    stored_count,
    stored_info,
)
from .files import expand_reader, resolve_file, unknown_keys
from .grammar import DatasetSection, SystemsSection
from .target_sections import TARGET_KEYS, expand_fields, expand_target

SECTION_KEYS = tuple(field_types(DatasetSection))
SYSTEMS_KEYS = tuple(field_types(SystemsSection))
DEFAULT_LENGTH_UNIT = typed_defaults(SystemsSection)["length_unit"]

Section = Dict[str, Any]


def expand_dataset_section(
    value: Any, path: str, base_dir: Path, require_targets: bool = True
) -> Tuple[List[Section], List[Problem]]:
    """Every dataset section in ``value`` (found at ``path``) in the expanded form, with
    all the problems found. Relative file names are resolved against ``base_dir``."""
    if isinstance(value, str):
        on_disk = is_disk_dataset(base_dir / Path(value).expanduser())
        # an on-disk dataset describes its targets; a file is read for an energy
        value = (
            {"systems": value}
            if on_disk
            else {"systems": value, "targets": {"energy": value}}
        )
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
    return sections, problems


def expand_standalone_sections(
    value: Any, path: str, base_dir: Path
) -> Tuple[List[Section], List[Problem]]:
    """Dataset sections read on their own (``atomtrain eval``), targets optional:
    expanded, and their units checked against each other. Within an options file,
    :func:`atomtrain.options.set_agreement.sets_agree` checks the units of every set
    together, once."""
    sections, problems = expand_dataset_section(value, path, base_dir, False)
    if not problems:
        problems += units_agree(located_sections(sections, path))
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
    if systems["reader"] == DISK_READER:
        return _expand_disk(raw, path, systems, base_dir, problems)
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
    on_disk = _disk_dataset(raw["read_from"], base_dir)
    if on_disk is not None:
        return _expand_disk_systems(raw, on_disk, path, problems)
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


def _disk_dataset(value: Any, base_dir: Path) -> Optional[str]:
    """``value`` as the absolute path of an on-disk dataset, or None when it does
    not name one."""
    if not isinstance(value, str) or not value:
        return None
    resolved = os.path.abspath(base_dir / Path(value).expanduser())
    return resolved if is_disk_dataset(resolved) else None


def _expand_disk_systems(
    raw: Dict[str, Any], read_from: str, path: str, problems: List[Problem]
) -> Dict[str, Any]:
    reader = raw.get("reader")
    if reader is not None and reader != DISK_READER:
        problems.append(
            Problem(
                f"{path}.reader",
                f"'{read_from}' is an on-disk dataset, read by the '{DISK_READER}' "
                "reader",
                reader,
            )
        )
    stored = stored_info(read_from, f"{path}.read_from", problems)
    length_unit = disk_length_unit(
        raw.get("length_unit"), stored, f"{path}.length_unit", problems
    )
    return {"read_from": read_from, "reader": DISK_READER, "length_unit": length_unit}


def _expand_disk(
    raw: Dict[str, Any],
    path: str,
    systems: Dict[str, Any],
    base_dir: Path,
    problems: List[Problem],
) -> Section:
    """A section on an on-disk dataset (see :mod:`.disk_sections`)."""
    read_from = systems["read_from"]
    found: List[Problem] = []
    stored = stored_info(read_from, f"{path}.systems.read_from", found)
    problems += found
    if found:
        return {"systems": systems, "targets": {}, "extra_data": {}, "indices": None}
    targets = expand_disk_entries(
        raw.get("targets"),
        f"{path}.targets",
        read_from,
        stored.targets,
        base_dir,
        problems,
        is_target=True,
    )
    extra_data = expand_disk_entries(
        raw.get("extra_data"),
        f"{path}.extra_data",
        read_from,
        stored.extra_data,
        base_dir,
        problems,
        is_target=False,
    )
    indices = _expand_indices(raw.get("indices"), f"{path}.indices", base_dir, problems)
    count = stored_count(read_from)
    if indices is not None and any(i >= count for i in indices):
        problems.append(
            Problem(
                f"{path}.indices",
                f"the indices go up to {max(indices)}, but the dataset '{read_from}' "
                f"holds {count} structures (0 to {count - 1})",
            )
        )
    return {
        "systems": systems,
        "targets": targets,
        "extra_data": extra_data,
        "indices": indices,
    }


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
