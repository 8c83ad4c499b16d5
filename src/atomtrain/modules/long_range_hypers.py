"""The ``long_range`` section of the model hypers of PET and SOAP-BPNN (metatrain's
names and defaults), kept apart from :mod:`.long_range` so that reading an
architecture's documentation imports neither torch nor torch-pme."""

from __future__ import annotations

from typing import Any, Dict

from annotated_types import Ge, Gt, Le
from typing_extensions import Annotated, TypedDict


class LongRangeHypers(TypedDict):
    """Long-range electrostatics: learned per-atom charges whose Coulomb potential,
    summed over every atom of the structure (and its periodic images), is added to
    the atoms' features."""

    enable: bool = False
    """Add the long-range part (needs ``pip install torch-pme``)."""
    use_ewald: bool = False
    """Periodic structures: always use Ewald summation. Otherwise (the default)
    Ewald summation is used for cells of up to 500 atoms, where it is the faster,
    and particle-particle particle-mesh (P3M) for larger ones; both compute the
    same sum, to about 1e-4 relative."""
    smearing: Annotated[float, Gt(0)] = 1.4
    """Width of the Gaussian charges splitting the Coulomb sum between real and
    reciprocal space, in the length unit; the potential of each charge is that of
    this Gaussian (``erf(r / (√2 σ)) / r``), the same with and without periodic
    boundaries."""
    kspace_resolution: Annotated[float, Gt(0)] = 1.33
    """Periodic structures: the shortest wavelength of the reciprocal-space sum
    (Ewald) or the spacing of the mesh (P3M), in the length unit; smaller is more
    accurate and slower."""
    interpolation_nodes: Annotated[int, Ge(1), Le(5)] = 5
    """P3M: the number of mesh points each charge is spread onto per direction
    (1 to 5)."""
    num_charges: Annotated[int, Ge(1)] = 16
    """Number of independent learned charges per atom (channels), each with its
    own potential."""


def add_long_range_section(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """Upgrade step of the architectures that gained the ``long_range`` section: a
    model stored before had none (``enable: false``, no weights)."""
    section = checkpoint["model"]["hypers"].setdefault("long_range", {})
    section.setdefault("enable", False)
    section.setdefault("use_ewald", False)
    section.setdefault("smearing", 1.4)
    section.setdefault("kspace_resolution", 1.33)
    section.setdefault("interpolation_nodes", 5)
    section.setdefault("num_charges", 16)
    return checkpoint
