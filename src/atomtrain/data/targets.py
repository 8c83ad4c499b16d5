"""Targets: their names, their ``type`` grammar and their :class:`TargetInfo`.

**Names.** A target is either a metatomic standard output (``energy``,
``non_conservative_force``, ``charge``, ... as :func:`metatomic.torch.
unit_dimension_for_quantity` knows them) or a custom one with a domain prefix,
``<domain>::<name>``. atomtrain names its own custom targets ``mtt::<name>``, the prefix
metatomic engines already know from metatrain, so existing options files work unchanged.
Any name takes a variant after a slash: ``energy/pbe``, ``mtt::dipole/hf``.

**Types.** ``type`` is ``scalar`` (the default), ``{cartesian: {rank: N}}`` or
``{spherical: {irreps: [{o3_lambda: L, o3_sigma: S}, ...]}}`` (one block per irrep).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from metatomic.torch import unit_dimension_for_quantity

from ..errors import Problem, did_you_mean
from .info import DatasetInfo, TargetInfo

#: The prefix of atomtrain's custom target names.
CUSTOM_PREFIX = "mtt::"
#: Standard outputs offered in "did you mean" suggestions.
COMMON_STANDARD_NAMES = (
    "energy",
    "energy_uncertainty",
    "energy_ensemble",
    "non_conservative_force",
    "non_conservative_stress",
    "charge",
    "mass",
    "velocity",
    "momentum",
    "position",
    "heat_flux",
    "spin_multiplicity",
)

TargetType = Any  # "scalar" | {"cartesian": {"rank": int}} | {"spherical": {...}}

#: The ``type`` of a target section that gives none.
DEFAULT_TARGET_TYPE = "scalar"
#: The ``sample_kind`` of a target section that gives neither it nor ``per_atom``.
DEFAULT_SAMPLE_KIND = "system"
#: The values ``sample_kind`` takes.
SAMPLE_KINDS = ("system", "atom")

#: The gradient of an energy that each gradient section (of a target section, of a
#: loss entry, of a metric name) means: the forces are minus the ``positions``
#: gradient, the stress and the virial both the ``strain`` gradient (divided by the
#: volume or not). The one table of these names; everything else reads it.
GRADIENT_OF: Dict[str, str] = {
    "forces": "positions",
    "stress": "strain",
    "virial": "strain",
}
#: The gradients a target may carry, in the order of ``TargetInfo.gradients``.
GRADIENTS: Tuple[str, ...] = tuple(dict.fromkeys(GRADIENT_OF.values()))


def sections_of(gradient: str) -> Tuple[str, ...]:
    """The gradient sections that mean ``gradient`` (``strain``: stress, virial)."""
    return tuple(name for name, of in GRADIENT_OF.items() if of == gradient)


def target_name_problem(name: object) -> Optional[str]:
    """Why ``name`` cannot name a target, or ``None`` when it can."""
    if not isinstance(name, str) or not name:
        return "a target name must be a non-empty string"
    try:
        dimension = unit_dimension_for_quantity(name)
    except ValueError as error:
        if "::" in name:
            return str(error)
        base = name.split("/")[0]
        return (
            f"'{name}' is not a standard metatomic output; name a custom target "
            f"with the '{CUSTOM_PREFIX}' prefix: '{CUSTOM_PREFIX}{name}'"
            + did_you_mean(base, COMMON_STANDARD_NAMES)
        )
    if dimension == "none":
        return f"'{name}' is a model output, not a target to train on"
    return None


def default_quantity(name: str) -> str:
    """``energy`` for ``energy`` and its variants; empty for every other target, which
    never becomes an energy unless its section says ``quantity: energy``."""
    return "energy" if name.split("/")[0] == "energy" else ""


def default_key(name: str) -> str:
    """The key read from the file when the section gives none: the name without its
    domain prefix (``mtt::U0`` reads ``U0``; ``energy/pbe`` reads ``energy/pbe``)."""
    return name.split("::", 1)[1] if "::" in name else name


def expand_target_type(value: Any, path: str) -> Tuple[TargetType, List[Problem]]:
    """The canonical form of a ``type`` value, with the problems found in it."""
    if value is None or value == DEFAULT_TARGET_TYPE:
        return DEFAULT_TARGET_TYPE, []
    if isinstance(value, dict) and len(value) == 1:
        kind, body = next(iter(value.items()))
        if kind == "cartesian":
            return _expand_cartesian(body, f"{path}.cartesian")
        if kind == "spherical":
            return _expand_spherical(body, f"{path}.spherical")
        if kind == DEFAULT_TARGET_TYPE and body in (None, {}):
            return DEFAULT_TARGET_TYPE, []
    return value, [
        Problem(
            path,
            "expected 'scalar', {cartesian: {rank: N}} or "
            "{spherical: {irreps: [{o3_lambda: L, o3_sigma: S}, ...]}}",
            value,
        )
    ]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _expand_cartesian(body: Any, path: str) -> Tuple[TargetType, List[Problem]]:
    if not isinstance(body, dict) or set(body) != {"rank"}:
        return {"cartesian": body}, [
            Problem(path, "expected a mapping with only 'rank'", body)
        ]
    rank = body["rank"]
    if not _is_int(rank) or rank < 1:
        return {"cartesian": body}, [
            Problem(f"{path}.rank", "expected an integer of at least 1", rank)
        ]
    return {"cartesian": {"rank": rank}}, []


def _expand_spherical(body: Any, path: str) -> Tuple[TargetType, List[Problem]]:
    irreps = body.get("irreps") if isinstance(body, dict) else None
    if not isinstance(body, dict) or set(body) != {"irreps"} or not irreps:
        return {"spherical": body}, [
            Problem(path, "expected a mapping with a non-empty list 'irreps'", body)
        ]
    if not isinstance(irreps, list):
        return {"spherical": body}, [
            Problem(f"{path}.irreps", "expected a list of irreps", irreps)
        ]
    problems, seen = [], set()
    expanded = []
    for i, irrep in enumerate(irreps):
        where = f"{path}.irreps[{i}]"
        if not isinstance(irrep, dict) or set(irrep) != {"o3_lambda", "o3_sigma"}:
            problems.append(
                Problem(where, "expected {o3_lambda: L, o3_sigma: S}", irrep)
            )
            continue
        lam, sigma = irrep["o3_lambda"], irrep["o3_sigma"]
        if not _is_int(lam) or lam < 0:
            problems.append(
                Problem(f"{where}.o3_lambda", "expected an integer ≥ 0", lam)
            )
        elif sigma not in (1, -1) or isinstance(sigma, bool):
            problems.append(Problem(f"{where}.o3_sigma", "expected 1 or -1", sigma))
        elif (lam, sigma) in seen:
            problems.append(Problem(where, "this irrep is listed twice", irrep))
        else:
            seen.add((lam, sigma))
            expanded.append({"o3_lambda": lam, "o3_sigma": sigma})
    return {"spherical": {"irreps": expanded}}, problems


def expand_sample_kind(raw: Dict[str, Any], path: str, problems: List[Problem]) -> str:
    """``sample_kind`` of a target section at ``path``, also from metatrain's
    ``per_atom: true/false``; problems are appended to ``problems``."""
    kind = raw.get("sample_kind")
    per_atom = raw.get("per_atom")
    if per_atom is not None and not isinstance(per_atom, bool):
        problems.append(Problem(f"{path}.per_atom", "expected true or false", per_atom))
        per_atom = None
    implied = None if per_atom is None else ("atom" if per_atom else "system")
    if kind is None:
        return implied or DEFAULT_SAMPLE_KIND
    if kind not in SAMPLE_KINDS:
        problems.append(
            Problem(f"{path}.sample_kind", "expected 'system' or 'atom'", kind)
        )
        return DEFAULT_SAMPLE_KIND
    if implied is not None and implied != kind:
        problems.append(
            Problem(
                f"{path}.per_atom",
                f"per_atom: {per_atom} contradicts sample_kind: {kind}; keep one",
            )
        )
    return str(kind)


def is_energy_section(section: Dict[str, Any]) -> bool:
    """An expanded target section that describes an energy: quantity ``energy``, scalar,
    per structure. Only these can have forces, stress or virial."""
    return (
        section["quantity"] == "energy"
        and section["type"] == DEFAULT_TARGET_TYPE
        and section["sample_kind"] == DEFAULT_SAMPLE_KIND
    )


def target_info(section: Dict[str, Any], gradients: Sequence[str] = ()) -> TargetInfo:
    """The :class:`TargetInfo` of an expanded target (or extra-data) section, with the
    ``gradients`` (``positions``, ``strain``) actually read for it."""
    kind, rank = "scalar", 0
    irreps: Tuple[Tuple[int, int], ...] = ()
    target_type = section["type"]
    if isinstance(target_type, dict) and "cartesian" in target_type:
        kind, rank = "cartesian", int(target_type["cartesian"]["rank"])
    elif isinstance(target_type, dict) and "spherical" in target_type:
        kind = "spherical"
        irreps = tuple(
            (int(ir["o3_lambda"]), int(ir["o3_sigma"]))
            for ir in target_type["spherical"]["irreps"]
        )
    return TargetInfo(
        quantity=section["quantity"],
        unit=section["unit"],
        sample_kind=section["sample_kind"],
        kind=kind,  # type: ignore[arg-type]
        num_subtargets=int(section["num_subtargets"]),
        rank=rank,
        irreps=irreps,
        gradients=tuple(g for g in GRADIENTS if g in gradients),
        description=section["description"],
    )


def target_section(
    info: TargetInfo, key: str, read_from: str, reader: str
) -> Dict[str, Any]:
    """The expanded target (or extra-data) section, without gradients, that
    :func:`target_info` turns into ``info``: the inverse, for data that describe
    themselves (on-disk datasets), read from ``key`` of ``read_from``."""
    target_type: TargetType = "scalar"
    if info.kind == "cartesian":
        target_type = {"cartesian": {"rank": info.rank}}
    elif info.kind == "spherical":
        irreps = [{"o3_lambda": lam, "o3_sigma": sigma} for lam, sigma in info.irreps]
        target_type = {"spherical": {"irreps": irreps}}
    return {
        "quantity": info.quantity,
        "read_from": read_from,
        "reader": reader,
        "key": key,
        "unit": info.unit,
        "sample_kind": info.sample_kind,
        "type": target_type,
        "num_subtargets": info.num_subtargets,
        "description": info.description,
    }


def dataset_info(
    length_unit: str,
    atomic_types: Sequence[int],
    targets: Dict[str, TargetInfo],
    extra_data: Optional[Dict[str, TargetInfo]] = None,
) -> DatasetInfo:
    """A :class:`DatasetInfo`; ``atomic_types`` are sorted and deduplicated."""
    return DatasetInfo(
        length_unit=length_unit,
        atomic_types=[int(t) for t in atomic_types],
        targets=dict(targets),
        extra_data=dict(extra_data or {}),
    )
