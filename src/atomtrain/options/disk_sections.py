"""Dataset sections on on-disk datasets: ``read_from`` naming a directory written by
``atomtrain convert``.

Such a dataset carries its own description in its header (targets, units, layouts,
gradients, length unit), so a section on it needs no ``targets``: without them, it
reads every stored target with all its gradients. A section may also name some of the
stored targets (under another name with ``key``), leave gradients out (``forces:
off``) or ask for them (``forces: on``); whatever it says must agree with the header,
otherwise it is an options problem naming the key and what the header holds. The
expanded form is that of any section, with ``reader: disk`` and the header's values::

    systems: {read_from: /abs/ds, reader: disk, length_unit: angstrom}
    targets:
      energy: {quantity: energy, read_from: /abs/ds, reader: disk, key: energy,
               unit: kcal/mol, sample_kind: system, type: scalar, ...,
               forces: {read_from: /abs/ds, reader: disk, key: positions,
                        required: true},
               stress: false, virial: false}

A stored strain gradient is read as ``stress`` unless the section says ``virial``:
both are the same dE/dε on disk.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..data.info import DatasetInfo, TargetInfo
from ..data.ondisk import DiskFormatError, read_header
from ..data.targets import GRADIENT_OF, target_name_problem, target_section
from ..errors import Problem
from .target_sections import GRADIENT_SECTIONS, SWITCHES, TARGET_KEYS, expand_fields

DISK_READER = "disk"
#: Keys of a target section whose value is the header's, and may only repeat it.
DESCRIBED_KEYS = ("quantity", "unit", "sample_kind", "type", "num_subtargets")

Section = Dict[str, Any]


def stored_info(read_from: str, path: str, problems: List[Problem]) -> DatasetInfo:
    """The :class:`DatasetInfo` in the header of the dataset ``read_from`` (a
    problem at ``path`` and an empty description when it cannot be read)."""
    try:
        return DatasetInfo.from_dict(read_header(read_from)["info"])
    except DiskFormatError as error:
        problems.append(Problem(path, str(error), read_from))
        return DatasetInfo()


def stored_count(read_from: str) -> int:
    """The number of structures of the dataset ``read_from``."""
    return int(read_header(read_from)["num_structures"])


def expand_disk_entries(
    raw: Any,
    path: str,
    read_from: str,
    stored: Dict[str, TargetInfo],
    base_dir: Path,
    problems: List[Problem],
    is_target: bool,
) -> Dict[str, Section]:
    """The ``targets`` (``is_target``) or ``extra_data`` of a section on the dataset
    ``read_from`` (found at ``path``), whose header holds ``stored``: every stored
    entry when ``raw`` is None, else the entries ``raw`` names."""
    if raw is None:
        raw = {name: {} for name in stored} if is_target else {}
    if not isinstance(raw, dict):
        problems.append(Problem(path, "expected a mapping", raw))
        return {}
    entries = {}
    for name, body in raw.items():
        where = f"{path}.{name}"
        if is_target:
            message = target_name_problem(name)
            if message is not None:
                problems.append(Problem(where, message))
                continue
        entry = _expand_entry(
            str(name), body, where, read_from, stored, base_dir, problems, is_target
        )
        if entry is not None:
            entries[str(name)] = entry
    return entries


def _expand_entry(
    name: str,
    raw: Any,
    path: str,
    read_from: str,
    stored: Dict[str, TargetInfo],
    base_dir: Path,
    problems: List[Problem],
    is_target: bool,
) -> Optional[Section]:
    if isinstance(raw, str):
        raw = {"read_from": raw}
    raw = dict(raw) if isinstance(raw, dict) else ({} if raw is None else raw)
    if not isinstance(raw, dict):
        problems.append(Problem(path, "expected a mapping", raw))
        return None
    _check_source(raw, path, read_from, base_dir, problems)
    # stored entries are named as converted: no prefix is taken off the key
    raw.setdefault("key", name)
    keys = TARGET_KEYS + (GRADIENT_SECTIONS if is_target else ())
    given = expand_fields(name, raw, path, read_from, base_dir, problems, keys, "")
    info = stored.get(given["key"]) if isinstance(given["key"], str) else None
    if info is None:
        what = "target" if is_target else "extra-data entry"
        problems.append(
            Problem(
                path,
                f"the dataset '{read_from}' has no {what} '{given['key']}'; it holds "
                f"{holdings(stored)}",
            )
        )
        return None
    section = target_section(info, given["key"], read_from, DISK_READER)
    for key in DESCRIBED_KEYS:
        if key in raw or (key == "sample_kind" and "per_atom" in raw):
            _check_described(key, given[key], section[key], path, given, problems)
    if "description" in raw:
        section["description"] = given["description"]
    if is_target:
        section.update(_gradients(raw, path, read_from, info, given["key"], problems))
    return section


def _check_source(
    raw: Dict[str, Any],
    path: str,
    read_from: str,
    base_dir: Path,
    problems: List[Problem],
) -> None:
    """A ``read_from`` or ``reader`` of an entry of an on-disk dataset may only
    name the dataset itself; both are then removed from ``raw``."""
    source = raw.pop("read_from", None)
    reader = raw.pop("reader", None)
    if source is not None:
        resolved = os.path.abspath(base_dir / Path(str(source)).expanduser())
        if resolved != read_from:
            problems.append(
                Problem(
                    f"{path}.read_from",
                    f"the targets of an on-disk dataset are read from the dataset "
                    f"('{read_from}'); to add labels from another file, convert them "
                    "into the dataset",
                    source,
                )
            )
    if reader is not None and reader != DISK_READER:
        problems.append(
            Problem(
                f"{path}.reader",
                f"an on-disk dataset is read by the '{DISK_READER}' reader",
                reader,
            )
        )


def _check_described(
    key: str,
    value: Any,
    stored: Any,
    path: str,
    given: Section,
    problems: List[Problem],
) -> None:
    """A described key given in the section must repeat the header's value."""
    if value == stored:
        return
    problems.append(
        Problem(
            f"{path}.{key}",
            f"the dataset holds '{given['key']}' with {key} {stored!r}: an on-disk "
            f"dataset is trained on as it was converted; remove {key} (it is read "
            "from the dataset's header), or convert the data again",
            value,
        )
    )


def _gradients(
    raw: Dict[str, Any],
    path: str,
    read_from: str,
    info: TargetInfo,
    key: str,
    problems: List[Problem],
) -> Section:
    """The ``forces``, ``stress`` and ``virial`` sections of a stored target: the
    stored gradients unless switched off; one asked for but not stored is a
    problem."""
    wanted = {
        g: _gradient_switch(raw[g], f"{path}.{g}", problems)
        for g in GRADIENT_SECTIONS
        if g in raw
    }
    if wanted.get("stress") and wanted.get("virial"):
        problems.append(
            Problem(path, "give either stress or virial, not both (set one to off)")
        )
    strain_as = "virial" if wanted.get("virial") else "stress"
    result: Section = {g: False for g in GRADIENT_SECTIONS}
    for gradient in GRADIENT_SECTIONS:
        switch = wanted.get(gradient)
        stored = GRADIENT_OF[gradient] in info.gradients
        if switch is True and not stored:
            problems.append(
                Problem(
                    f"{path}.{gradient}",
                    f"the dataset holds no {gradient} for '{key}' (stored gradients: "
                    f"{_gradient_names(info)}); convert the data again with them, or "
                    f"remove {gradient}",
                )
            )
        implicit = switch is None and gradient in ("forces", strain_as)
        if stored and (switch is True or implicit):
            result[gradient] = {
                "read_from": read_from,
                "reader": DISK_READER,
                "key": GRADIENT_OF[gradient],
                "required": True,
            }
    return result


def _gradient_switch(value: Any, path: str, problems: List[Problem]) -> Optional[bool]:
    """On (True), off (False) or not given (None); a mapping is on, and may only
    repeat the expanded form (the dataset, its reader, the stored gradient)."""
    if isinstance(value, str) and value.lower() in SWITCHES:
        value = SWITCHES[value.lower()]
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, dict) and value.get("reader", DISK_READER) == DISK_READER:
        return True
    problems.append(
        Problem(
            path,
            "the gradients of an on-disk dataset are read from it: write on or off",
            value,
        )
    )
    return None


def _gradient_names(info: TargetInfo) -> str:
    names = [g for g, s in GRADIENT_OF.items() if s in info.gradients]
    if "strain" in info.gradients:
        names = [g for g in names if g != "virial"] + ["(or virial)"]
    return " ".join(names) if names else "none"


def holdings(stored: Dict[str, TargetInfo]) -> str:
    """``"energy (kcal/mol, with forces), mtt::dipole (debye)"``: what a header
    holds, for messages."""
    if not stored:
        return "none"
    described = []
    for name, info in stored.items():
        parts = [info.unit or "no unit"]
        if info.gradients:
            parts.append(f"with {_gradient_names(info)}")
        described.append(f"{name} ({', '.join(parts)})")
    return ", ".join(described)


def disk_length_unit(
    raw: Any, stored: DatasetInfo, path: str, problems: List[Problem]
) -> str:
    """The length unit of a section on an on-disk dataset: the header's; another one
    given in the section is a problem."""
    if raw is not None and raw != stored.length_unit:
        problems.append(
            Problem(
                path,
                f"the dataset's positions are in '{stored.length_unit}': remove "
                "length_unit (it is read from the dataset's header), or convert the "
                "data again with --length-unit",
                raw,
            )
        )
    return stored.length_unit
