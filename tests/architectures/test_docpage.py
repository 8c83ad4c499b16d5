"""The generated Markdown page of an architecture."""

from __future__ import annotations

from pathlib import Path

import yaml
from archbuilder import BARE, EXPERIMENTAL, write_architecture

from atomtrain.architectures.discovery import list_architectures
from atomtrain.architectures.docpage import render_page, write_pages
from atomtrain.architectures.hypers import get_defaults


def _yaml_block(page: str) -> dict:
    start = page.index("```yaml\n") + len("```yaml\n")
    return yaml.safe_load(page[start : page.index("```", start)])


def test_typed_page(fake_root: str, tmp_path: Path) -> None:
    write_architecture(tmp_path, f"{fake_root}.typed")
    page = render_page("typed")
    assert page.startswith(
        "# Typed\n\nA typed test architecture with TypedDict hypers."
    )
    assert "included in atomtrain: nothing more to install" in page
    assert _yaml_block(page) == {
        "architecture": {"name": "typed", **get_defaults("typed")}
    }
    assert (
        "| `cutoff` | `CutoffHypers` | see below | Where neighbourhoods end. |" in page
    )
    assert "| `cutoff.radius` | `float` | `5.0` | Cutoff radius (Å). |" in page
    assert (
        "| `activation` | `'silu' \\| 'tanh' \\| 'relu'` | `\"silu\"` "
        "| Non-linearity between the layers. |"
    ) in page
    assert "| `seed_offset` | `int` | not set | Added to the global seed" in page
    assert page.index("## Model hyperparameters") < page.index("`cutoff.width`")
    assert page.index("## Trainer hyperparameters") < page.index("`num_epochs`")
    assert "Architecture:\n\n- https://doi.org/10.0000/tiny" in page
    assert "Implementation:\n\n- https://example.org/tiny" in page
    assert "## Authors\n\n- Ada Lovelace <ada@example.org> (@ada)" in page
    assert "## Maintainers\n\n- Grace Hopper <grace@example.org> (@grace)" in page


def test_plain_pages(fake_root: str, tmp_path: Path) -> None:
    write_architecture(tmp_path, f"{fake_root}.experimental.tiny", EXPERIMENTAL)
    write_architecture(tmp_path, f"{fake_root}.deprecated.old", BARE)
    page = render_page("experimental.tiny")
    assert page.startswith("# Tiny\n\n*This architecture is experimental.*")
    assert "their values are not checked" in page
    assert "| `width` | `int` | `16` | Number of hidden features. |" in page
    assert '`{"depth": 2, "activation": "silu"}`' in page


def test_page_of_architecture_missing_a_dependency(
    fake_root: str, tmp_path: Path
) -> None:
    write_architecture(
        tmp_path, f"{fake_root}.needy", extra_import="import not_installed_xyz"
    )
    page = render_page("needy")
    assert "| `num_epochs` | `int` | `100` |" in page
    assert (
        "Not shown: the architecture cannot be imported here (the architecture "
        "'needy' needs the package 'not_installed_xyz'"
    ) in page


def test_write_pages(fake_root: str, tmp_path: Path) -> None:
    write_architecture(tmp_path, f"{fake_root}.typed")
    write_architecture(tmp_path, f"{fake_root}.experimental.tiny", EXPERIMENTAL)
    paths = write_pages(tmp_path / "docs" / "architectures")
    external = {
        f"{e.name}.md" for e in list_architectures() if e.maturity == "external"
    }
    in_tree = sorted(path.name for path in paths if path.name not in external)
    assert in_tree == ["experimental.tiny.md", "typed.md"]
    typed = next(path for path in paths if path.name == "typed.md")
    assert typed.read_text(encoding="utf-8") == render_page("typed")


def test_composition_page() -> None:
    page = render_page("composition")
    assert page.startswith("# Composition\n")
    assert _yaml_block(page) == {
        "architecture": {
            "name": "composition",
            "model": {},
            "training": {"atomic_baseline": {}},
        }
    }
    assert "This architecture has no model hyperparameters." in page
    assert (
        "## Trainer hyperparameters\n\n| Name | Type | Default | Description |" in page
    )
    assert "| `atomic_baseline` | `dict[str, dict[int, float]]` | `{}` |" in page
    assert "## Authors\n\n- " in page


def test_typed_dicts_inside_mappings_get_their_own_table(
    fake_root: str, tmp_path: Path
) -> None:
    documentation = '''
from typing import Dict, List

from typing_extensions import NotRequired, TypedDict


class Head(TypedDict):
    width: NotRequired[int]
    """Width of the head."""


class ModelHypers(TypedDict):
    heads: Dict[str, Head] = {}
    """One head per target."""


class TrainerHypers(TypedDict):
    stages: List[Head] = []
    """Heads used in successive stages."""
'''
    write_architecture(tmp_path, f"{fake_root}.heads", documentation)
    page = render_page("heads")
    assert "| `heads` | `dict[str, Head]` | `{}` | One head per target. |" in page
    assert page.count("### Head\n") == 1
    assert "| `width` | `int` | not set | Width of the head. |" in page
