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

Gradients (``forces``, ``stress``, ``virial``) exist only on energies (see
:func:`atomtrain.data.targets.is_energy_section`). An energy gets ``forces`` and
``stress`` sections by default with ``required: false``: they are read when the file has
them and skipped silently when it has none. A gradient the user wrote (``on``, a key, a
file or a mapping) has ``required: true`` and must be found in every structure. A
string names a file when such a file exists, a key otherwise. ``stress`` and ``virial``
together are a problem.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from ..data.splits import read_index_file
from ..data.targets import (
    default_key,
    default_quantity,
    expand_sample_kind,
    expand_target_type,
    is_energy_section,
    target_name_problem,
)
from ..data.units import unit_problem, units_agree
from ..errors import Problem, did_you_mean

SECTION_KEYS = ("systems", "targets", "extra_data", "indices")
SYSTEMS_KEYS = ("read_from", "reader", "length_unit")
TARGET_KEYS = (
    "quantity",
    "read_from",
    "reader",
    "key",
    "unit",
    "sample_kind",
    "per_atom",
    "type",
    "num_subtargets",
    "description",
)
GRADIENT_SECTIONS = ("forces", "stress", "virial")
GRADIENT_KEYS = ("read_from", "reader", "key", "required")
READERS = ("ase", "metatensor")
DEFAULT_LENGTH_UNIT = "angstrom"
SWITCHES = {
    "on": True,
    "true": True,
    "yes": True,
    "off": False,
    "false": False,
    "no": False,
}

Section = Dict[str, Any]


def infer_reader(path: str) -> str:
    """``metatensor`` for ``.mts`` files, ``ase`` for everything else."""
    return "metatensor" if path.lower().endswith(".mts") else "ase"


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


def _unknown(
    mapping: Dict[str, Any], known: Tuple[str, ...], path: str
) -> List[Problem]:
    return [
        Problem(
            f"{path}.{key}",
            "unknown key"
            + did_you_mean(str(key), known)
            + "; expected one of "
            + ", ".join(known),
        )
        for key in mapping
        if key not in known
    ]


def _expand_one(
    raw: Dict[str, Any],
    path: str,
    base_dir: Path,
    require_targets: bool,
    problems: List[Problem],
) -> Section:
    problems += _unknown(raw, SECTION_KEYS, path)
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
            targets[name] = _expand_target(
                name, target, where, read_from, base_dir, problems
            )
    extra = raw.get("extra_data") or {}
    if not isinstance(extra, dict):
        problems.append(Problem(f"{path}.extra_data", "expected a mapping", extra))
        extra = {}
    extra_data = {
        str(name): _expand_fields(
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


def _resolve(
    value: Any, path: str, base_dir: Path, problems: List[Problem]
) -> Optional[str]:
    if not isinstance(value, str) or not value:
        problems.append(Problem(path, "expected a file name", value))
        return None
    resolved = Path(os.path.abspath(base_dir / Path(value).expanduser()))
    if not resolved.is_file():
        problems.append(Problem(path, f"file '{resolved}' does not exist", value))
    return str(resolved)


def _expand_reader(
    value: Any, read_from: Optional[str], path: str, problems: List[Problem]
) -> Optional[str]:
    if value is None:
        return infer_reader(read_from) if read_from else None
    if value not in READERS:
        problems.append(
            Problem(
                path,
                "unknown reader"
                + did_you_mean(str(value), READERS)
                + "; expected one of "
                + ", ".join(READERS),
                value,
            )
        )
    return value if isinstance(value, str) else None


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
    problems += _unknown(raw, SYSTEMS_KEYS, path)
    read_from = _resolve(raw["read_from"], f"{path}.read_from", base_dir, problems)
    reader = _expand_reader(raw.get("reader"), read_from, f"{path}.reader", problems)
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


def _expand_target(
    name: str,
    raw: Any,
    path: str,
    read_from: Optional[str],
    base_dir: Path,
    problems: List[Problem],
) -> Section:
    keys = TARGET_KEYS + GRADIENT_SECTIONS
    section = _expand_fields(
        name, raw, path, read_from, base_dir, problems, keys, default_quantity(name)
    )
    raw = raw if isinstance(raw, dict) else {}
    raw = {k: _switch(v) if k in GRADIENT_SECTIONS else v for k, v in raw.items()}
    given = [g for g in GRADIENT_SECTIONS if raw.get(g) not in (None, False)]
    if not is_energy_section(section):
        for gradient in given:
            problems.append(
                Problem(
                    f"{path}.{gradient}",
                    "only energies (quantity: energy, type: scalar, sample_kind: "
                    "system) have forces, stress or virial",
                )
            )
        section.update({g: False for g in GRADIENT_SECTIONS})
        return section
    if "stress" in given and "virial" in given:
        problems.append(
            Problem(path, "give either stress or virial, not both (set one to off)")
        )
    for gradient in GRADIENT_SECTIONS:
        implicit = (
            gradient != "virial" and gradient not in raw and "virial" not in given
        )
        section[gradient] = _expand_gradient(
            gradient,
            True if implicit else raw.get(gradient),
            not implicit,
            section,
            f"{path}.{gradient}",
            base_dir,
            problems,
        )
    return section


def _expand_fields(
    name: str,
    raw: Any,
    path: str,
    read_from: Optional[str],
    base_dir: Path,
    problems: List[Problem],
    keys: Tuple[str, ...],
    quantity: str,
) -> Section:
    if isinstance(raw, str):
        raw = {"read_from": raw}
    elif raw is None:
        raw = {}
    elif not isinstance(raw, dict):
        problems.append(Problem(path, "expected a file name or a mapping", raw))
        raw = {}
    problems += _unknown(raw, keys, path)
    if "read_from" in raw:
        read_from = _resolve(raw["read_from"], f"{path}.read_from", base_dir, problems)
    target_type, found = expand_target_type(raw.get("type"), f"{path}.type")
    problems += found
    section = {
        "quantity": raw.get("quantity", quantity),
        "read_from": read_from,
        "reader": _expand_reader(
            raw.get("reader"), read_from, f"{path}.reader", problems
        ),
        "key": raw.get("key", default_key(name)),
        "unit": raw.get("unit", ""),
        "sample_kind": expand_sample_kind(raw, path, problems),
        "type": target_type,
        "num_subtargets": raw.get("num_subtargets", 1),
        "description": raw.get("description", ""),
    }
    _check_fields(section, path, problems)
    return section


def _check_fields(section: Section, path: str, problems: List[Problem]) -> None:
    for field in ("quantity", "key", "description"):
        if not isinstance(section[field], str):
            problems.append(
                Problem(f"{path}.{field}", "expected a string", section[field])
            )
    count = section["num_subtargets"]
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        problems.append(
            Problem(f"{path}.num_subtargets", "expected an integer ≥ 1", count)
        )
    dimension = "energy" if section["quantity"] == "energy" else None
    problems += unit_problem(section["unit"], f"{path}.unit", dimension)


def _switch(value: Any) -> Any:
    """``on``/``off``/``true``/``false`` written as strings are booleans, as YAML
    reads them unquoted."""
    if isinstance(value, str) and value.lower() in SWITCHES:
        return SWITCHES[value.lower()]
    return value


def _expand_gradient(
    gradient: str,
    raw: Any,
    required: bool,
    target: Section,
    path: str,
    base_dir: Path,
    problems: List[Problem],
) -> Any:
    if raw is None or raw is False:
        return False
    read_from = target["read_from"]
    if raw is True:
        raw = {}
    elif isinstance(raw, str):
        as_file = Path(raw).expanduser()
        as_file = as_file if as_file.is_absolute() else base_dir / as_file
        raw = {"read_from": raw} if as_file.is_file() else {"key": raw}
    elif not isinstance(raw, dict):
        problems.append(
            Problem(path, "expected on/off, a key, a file name or a mapping", raw)
        )
        return False
    problems += _unknown(raw, GRADIENT_KEYS, path)
    if "read_from" in raw:
        read_from = _resolve(raw["read_from"], f"{path}.read_from", base_dir, problems)
        reader = _expand_reader(
            raw.get("reader"), read_from, f"{path}.reader", problems
        )
    else:
        reader = _expand_reader(
            raw.get("reader", target["reader"]), read_from, f"{path}.reader", problems
        )
    key = raw.get("key", gradient)
    if not isinstance(key, str) or not key:
        problems.append(Problem(f"{path}.key", "expected a key as a string", key))
    required = raw.get("required", required)
    if not isinstance(required, bool):
        problems.append(Problem(f"{path}.required", "expected true or false", required))
    return {"read_from": read_from, "reader": reader, "key": key, "required": required}


def _expand_indices(
    raw: Any, path: str, base_dir: Path, problems: List[Problem]
) -> Optional[List[int]]:
    if raw is None:
        return None
    if isinstance(raw, str):
        file = _resolve(raw, path, base_dir, problems)
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
