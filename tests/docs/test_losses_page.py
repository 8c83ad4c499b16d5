"""The loss sections of ``docs/concepts/losses.md``, resolved exactly as written
for an energy with forces and stress (and, for metatrain's ``gradients`` form, one
without stress labels, as the page says it may be)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from atomtrain.data.info import TargetInfo
from atomtrain.training.losses import resolve_loss

PAGE = Path(__file__).parents[2] / "docs" / "concepts" / "losses.md"
FENCE = re.compile(r"```yaml\n(.*?)```", re.DOTALL)
WITH_STRESS = TargetInfo(
    quantity="energy", unit="eV", gradients=("positions", "strain")
)
FORCES_ONLY = TargetInfo(quantity="energy", unit="eV", gradients=("positions",))


def losses() -> list:
    return [
        yaml.safe_load(text)["architecture"]["training"]["loss"]
        for text in FENCE.findall(PAGE.read_text())
    ]


def test_every_loss_of_the_page_resolves():
    shown = losses()
    assert len(shown) == 3
    for loss in shown:
        terms = {t.name: t for t in resolve_loss(loss, {"energy": WITH_STRESS})}
        assert sorted(terms) == ["energy", "energy.forces", "energy.stress"]
    named, form = (
        {t.name: t for t in resolve_loss(s, {"energy": WITH_STRESS})} for s in shown[1:]
    )
    assert named["energy.forces"].weight == form["energy.forces"].weight == 10.0


def test_the_gradients_form_fits_a_target_without_stress():
    terms = resolve_loss(losses()[2], {"energy": FORCES_ONLY})
    assert [t.name for t in terms] == ["energy", "energy.forces"]
