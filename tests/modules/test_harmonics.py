"""The closed-form harmonics equal sphericart's, degree by degree."""

import torch

from atomtrain.modules.harmonics import MAX_DEGREE, low_harmonics
from atomtrain.modules.spherical import real_harmonics


def test_closed_forms_equal_sphericart() -> None:
    vectors = torch.randn(
        50, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)
    )
    reference = real_harmonics(MAX_DEGREE, vectors)
    ours = torch.cat(low_harmonics(vectors * 2.5, MAX_DEGREE), dim=1)
    torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-12)
    assert [y.shape[1] for y in low_harmonics(vectors, 1)] == [1, 3]
