from pathlib import Path

import pytest

from atomtrain.data.splits import SplitError, draw_splits, read_indices, write_indices


def test_draw_is_a_seeded_partition() -> None:
    splits = draw_splits([100, 40], 0.1, 0.2, seed=7)
    for number, size in enumerate([100, 40]):
        parts = [splits[s][number] for s in ("training", "validation", "test")]
        assert sorted(i for part in parts for i in part) == list(range(size))
        assert [len(p) for p in parts] == [
            size - size // 10 - size // 5,
            size // 10,
            size // 5,
        ]
    assert draw_splits([100, 40], 0.1, 0.2, seed=7) == splits
    assert draw_splits([100, 40], 0.1, 0.2, seed=8) != splits


def test_fractions_that_leave_nothing() -> None:
    with pytest.raises(SplitError, match="is no structure"):
        draw_splits([5], 0.1, 0.0, seed=0)
    with pytest.raises(SplitError, match="keeps no structure for training"):
        draw_splits([4], 0.5, 0.5, seed=0)


def test_round_trip_and_stale_indices(tmp_path: Path) -> None:
    splits = draw_splits([20, 30], 0.1, 0.0, seed=1)
    write_indices(tmp_path / "indices", splits)
    assert sorted(p.name for p in (tmp_path / "indices").iterdir())[:2] == [
        "test_0.txt",
        "test_1.txt",
    ]
    assert read_indices(tmp_path / "indices", [20, 30]) == splits
    with pytest.raises(SplitError, match="the data changed"):
        read_indices(tmp_path / "indices", [20, 10])
    with pytest.raises(SplitError, match="does not exist"):
        read_indices(tmp_path / "indices", [20])
