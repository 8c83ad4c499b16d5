"""Target and extra-data entries of a dataset section, and their gradients, expanded
to the canonical form (see :mod:`.datasets` for a whole section).

Gradients (``forces``, ``stress``, ``virial``) exist only on energies (see
:func:`atomtrain.data.targets.is_energy_section`). An energy gets ``forces`` and
``stress`` sections by default with ``required: false``: they are read when the file has
them and skipped silently when it has none. A gradient the user wrote (``on``, a key, a
file or a mapping) has ``required: true`` and must be found in every structure, except
the default section written out in full (``read_from`` and ``reader`` the target's,
``key: forces`` or ``key: stress``), as metatrain's expanded options files write it,
which keeps the default's meaning. A
string names a file when such a file exists, a key otherwise. ``stress`` and ``virial``
together are a problem.

Units that are valid but probably not what the user meant are warned about once the
options are validated (:func:`warn_about_units`): a target without a unit, and an
energy in a macroscopic unit (``kcal`` for ``kcal/mol``).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..architectures.typeinfo import field_types, typed_defaults
from ..data.info import TargetInfo
from ..data.targets import (
    GRADIENT_OF,
    default_key,
    default_quantity,
    expand_sample_kind,
    expand_target_type,
    is_energy_section,
    target_info,
)
from ..data.units import per_mole_unit_meant, unit_problem
from ..errors import Problem
from ..training.hypers import PRODUCT_METRICS
from ..training.metrics import irrep_quantities
from .files import expand_reader, resolve_file, unknown_keys
from .grammar import ExtraDataSection, GradientSection, TargetSection

TARGET_KEYS = tuple(field_types(ExtraDataSection))
GRADIENT_SECTIONS = tuple(k for k in field_types(TargetSection) if k not in TARGET_KEYS)
GRADIENT_KEYS = tuple(field_types(GradientSection))
#: The constant defaults of a target's fields, from the grammar.
FIELD_DEFAULTS = typed_defaults(ExtraDataSection)
SWITCHES = {
    "on": True,
    "true": True,
    "yes": True,
    "off": False,
    "false": False,
    "no": False,
}

Section = Dict[str, Any]


class UnitWarning(UserWarning):
    """A target's unit is missing, or probably not the one the user meant."""


def expand_target(
    name: str,
    raw: Any,
    path: str,
    read_from: Optional[str],
    base_dir: Path,
    problems: List[Problem],
) -> Section:
    """Target ``name`` (at ``path``) expanded, with its gradients when it is an
    energy; ``read_from`` is the file of the systems, the default source."""
    keys = TARGET_KEYS + GRADIENT_SECTIONS
    section = expand_fields(
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


def expand_fields(
    name: str,
    raw: Any,
    path: str,
    read_from: Optional[str],
    base_dir: Path,
    problems: List[Problem],
    keys: Tuple[str, ...],
    quantity: str,
) -> Section:
    """The fields of a target or extra-data entry (``keys`` allowed), with the
    defaults filled in."""
    if isinstance(raw, str):
        raw = {"read_from": raw}
    elif raw is None:
        raw = {}
    elif not isinstance(raw, dict):
        problems.append(Problem(path, "expected a file name or a mapping", raw))
        raw = {}
    problems += unknown_keys(raw, keys, path)
    if "read_from" in raw:
        read_from = resolve_file(
            raw["read_from"], f"{path}.read_from", base_dir, problems
        )
    target_type, found = expand_target_type(raw.get("type"), f"{path}.type")
    problems += found
    section = {
        "quantity": raw.get("quantity", quantity),
        "read_from": read_from,
        "reader": expand_reader(
            raw.get("reader"), read_from, f"{path}.reader", problems
        ),
        "key": raw.get("key", default_key(name)),
        "unit": raw.get("unit", FIELD_DEFAULTS["unit"]),
        "sample_kind": expand_sample_kind(raw, path, problems),
        "type": target_type,
        "num_subtargets": raw.get("num_subtargets", FIELD_DEFAULTS["num_subtargets"]),
        "description": raw.get("description", FIELD_DEFAULTS["description"]),
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


def _spells_out_the_default(
    raw: Dict[str, Any],
    gradient: str,
    key: Any,
    read_from: Any,
    reader: Any,
    target: Section,
) -> bool:
    """Whether a gradient section is the default one written out in full (the
    target's file and reader, the key named after the gradient, ``read_from``,
    ``reader`` and ``key`` all given and no ``required``), as metatrain's expanded
    options files write every gradient: it then keeps the default's meaning, read
    when the file has it. A section written by hand (``forces: {key: forces}``)
    asks for the gradient."""
    return (
        gradient != "virial"
        and {"read_from", "reader", "key"} <= set(raw)
        and "required" not in raw
        and key == gradient
        and read_from == target["read_from"]
        and reader == target["reader"]
    )


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
    problems += unknown_keys(raw, GRADIENT_KEYS, path)
    if "read_from" in raw:
        read_from = resolve_file(
            raw["read_from"], f"{path}.read_from", base_dir, problems
        )
        reader = expand_reader(raw.get("reader"), read_from, f"{path}.reader", problems)
    else:
        reader = expand_reader(
            raw.get("reader", target["reader"]), read_from, f"{path}.reader", problems
        )
    key = raw.get("key", gradient)
    if not isinstance(key, str) or not key:
        problems.append(Problem(f"{path}.key", "expected a key as a string", key))
    if _spells_out_the_default(raw, gradient, key, read_from, reader, target):
        required = False
    required = raw.get("required", required)
    if not isinstance(required, bool):
        problems.append(Problem(f"{path}.required", "expected true or false", required))
    return {"read_from": read_from, "reader": reader, "key": key, "required": required}


def metric_names(sections: List[Section]) -> List[str]:
    """The ``best_model_metric`` values the targets of ``sections`` can give: the loss,
    the products, and the RMSE and MAE of every target, of every irrep of a
    spherical target and of every gradient an energy may have (whether the data
    holds it is known only once it is read)."""
    names = ["loss", *PRODUCT_METRICS]
    for section in sections:
        for name, target in section["targets"].items():
            quantities = [""] + [f".{g}" for g in GRADIENT_SECTIONS if target.get(g)]
            irreps = irrep_quantities(target_info(target, []))
            quantities += [f".{irrep}" for irrep in irreps]
            for quantity in quantities:
                names += [f"{name}{quantity}.rmse", f"{name}{quantity}.mae"]
    return list(dict.fromkeys(names))


def possible_targets(sections: List[Section]) -> Dict[str, TargetInfo]:
    """The targets that ``sections`` (expanded) hold, each with every gradient its
    sections read (an optional one may still be absent from the files: the data
    tell, once read)."""
    targets: Dict[str, TargetInfo] = {}
    for section in sections:
        for name, target in section["targets"].items():
            gradients = {GRADIENT_OF[g] for g in GRADIENT_OF if target.get(g)}
            if name in targets:
                gradients.update(targets[name].gradients)
            targets[name] = target_info(target, sorted(gradients))
    return targets


def unit_warnings(sections: Sequence[Tuple[str, Section]]) -> List[str]:
    """What is suspicious about the units of the targets of expanded dataset
    sections (each with its dotted path), once per target name."""
    messages: List[str] = []
    seen = set()
    for path, section in sections:
        for name, target in section.get("targets", {}).items():
            if name in seen:
                continue
            seen.add(name)
            where = f"{path}.targets.{name}" if path else f"targets.{name}"
            unit, energy = target["unit"], is_energy_section(target)
            meant = per_mole_unit_meant(unit) if energy else None
            if unit == "":
                example = " (for example 'eV' or 'kcal/mol')" if energy else ""
                messages.append(
                    f"{where} has no unit: its predictions will carry no unit, and "
                    "no conversion to another unit is possible (in ASE, LAMMPS or "
                    f"eval); declare it with {where}.unit{example}"
                )
            elif meant is not None:
                messages.append(
                    f"{where}.unit: '{unit}' is the energy of a macroscopic amount, "
                    f"not of one structure; you probably meant '{meant}'"
                )
    return messages


def warn_about_units(sections: Sequence[Tuple[str, Section]]) -> None:
    """Warn (:class:`UnitWarning`) about each of :func:`unit_warnings`."""
    for message in unit_warnings(sections):
        warnings.warn(message, UnitWarning, stacklevel=2)
