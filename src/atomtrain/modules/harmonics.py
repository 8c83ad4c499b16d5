"""Real spherical harmonics of degree 0 to 2 in closed form: TorchScript-friendly,
with exact derivatives of every order, in the convention of the targets and of
sphericart (orthonormal on the sphere, ``m = −l … l``; degree 1 is ``(y, z, x)``).

For architectures whose exported models should not need a compiled extension for
the low degrees that dipoles, polarizabilities and quadrupoles use.
"""

import math
from typing import List

import torch

#: The highest degree :func:`low_harmonics` gives.
MAX_DEGREE = 2


def low_harmonics(vectors: torch.Tensor, max_degree: int) -> List[torch.Tensor]:
    """``Y_l`` of the directions of ``vectors [P, 3]`` for ``l = 0 … max_degree``
    (at most 2), each ``[P, 2l + 1]``."""
    # TorchScript reads no module-level floats: the normalisations are local
    c0 = 0.5 / math.sqrt(math.pi)
    c1 = math.sqrt(3.0 / (4.0 * math.pi))
    c2 = 0.5 * math.sqrt(15.0 / math.pi)
    c20 = 0.25 * math.sqrt(5.0 / math.pi)
    r = torch.linalg.vector_norm(vectors, dim=1, keepdim=True)
    unit = vectors / r
    x, y, z = unit[:, 0], unit[:, 1], unit[:, 2]
    result = [torch.full_like(r, c0)]
    if max_degree >= 1:
        result.append(c1 * torch.stack([y, z, x], dim=1))
    if max_degree >= 2:
        result.append(
            torch.stack(
                [
                    c2 * x * y,
                    c2 * y * z,
                    c20 * (3.0 * z * z - 1.0),
                    c2 * x * z,
                    0.5 * c2 * (x * x - y * y),
                ],
                dim=1,
            )
        )
    return result
