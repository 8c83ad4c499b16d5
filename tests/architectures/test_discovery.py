"""Finding, listing and importing architectures; contract checks and their errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
from archbuilder import BARE, EXPERIMENTAL, write_architecture, write_distribution

from atomtrain.architectures import discovery
from atomtrain.architectures.discovery import (
    DeprecatedArchitectureWarning,
    InvalidArchitectureError,
    MissingDependencyError,
    UnknownArchitectureError,
    find_architecture,
    import_architecture,
    list_architectures,
)
from atomtrain.errors import UserError

REPOSITORY = Path(__file__).parents[2]


@pytest.fixture
def three(fake_root: str, tmp_path: Path) -> str:
    write_architecture(tmp_path, f"{fake_root}.typed")
    write_architecture(tmp_path, f"{fake_root}.experimental.tiny", EXPERIMENTAL)
    write_architecture(tmp_path, f"{fake_root}.deprecated.old", BARE)
    return fake_root


def test_names_map_to_modules(three: str) -> None:
    assert find_architecture("typed") == f"{three}.typed"
    assert find_architecture("experimental.tiny") == f"{three}.experimental.tiny"
    with pytest.warns(DeprecatedArchitectureWarning, match="'deprecated.old'"):
        assert find_architecture("deprecated.old") == f"{three}.deprecated.old"


def test_deprecation_warning_is_given_once(three: str) -> None:
    with pytest.warns(DeprecatedArchitectureWarning):
        import_architecture("deprecated.old")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        import_architecture("deprecated.old")


def test_listing(three: str) -> None:
    # installed external architectures (the example package) are listed too
    entries = {
        entry.name: entry
        for entry in list_architectures()
        if entry.maturity != "external"
    }
    assert set(entries) == {"typed", "experimental.tiny", "deprecated.old"}
    assert entries["typed"].maturity == "stable"
    assert entries["experimental.tiny"].maturity == "experimental"
    assert entries["deprecated.old"].maturity == "deprecated"
    assert entries["typed"].description == (
        "A typed test architecture with TypedDict hypers."
    )
    assert entries["experimental.tiny"].description == (
        "A tiny test architecture, one line."
    )
    assert entries["deprecated.old"].description == ""


def test_one_line_description() -> None:
    long = "Title\n=====\n\nA model of everything: " + "very " * 20 + "detailed. Next."
    assert discovery.one_line_description(long) == "A model of everything"
    assert discovery.one_line_description("Short one. Second one.") == "Short one."
    assert discovery.one_line_description("") == ""


def test_listing_imports_no_architecture(three: str, tmp_path: Path) -> None:
    write_architecture(
        tmp_path, f"{three}.needy", extra_import="import not_installed_dependency_xyz"
    )
    names = [entry.name for entry in list_architectures()]
    assert "needy" in names
    assert f"{three}.typed" not in sys.modules


def test_package_without_documentation_is_not_an_architecture(three: str) -> None:
    with pytest.raises(UnknownArchitectureError, match="unknown architecture 'data'"):
        find_architecture("data")


def test_unknown_name_suggests_the_closest(three: str) -> None:
    with pytest.raises(UnknownArchitectureError) as error:
        find_architecture("typd")
    assert "unknown architecture 'typd' (did you mean 'typed'?)" in str(error.value)
    assert "Known architectures: typed, experimental.tiny, deprecated.old" in str(
        error.value
    )
    assert isinstance(error.value, UserError)


def test_name_existing_only_under_experimental(three: str) -> None:
    with pytest.raises(UnknownArchitectureError) as error:
        find_architecture("tiny")
    assert "unknown architecture 'tiny': it exists as 'experimental.tiny'" in str(
        error.value
    )
    with pytest.raises(UnknownArchitectureError, match="it exists as 'typed'"):
        find_architecture("experimental.typed")


def test_import_checks_the_contract(three: str, tmp_path: Path) -> None:
    module = import_architecture("typed")
    assert module.__name__ == f"{three}.typed"

    bad_model = "from .trainer import Trainer\n__model__ = int\n__trainer__ = Trainer\n"
    write_architecture(tmp_path, f"{three}.badmodel", init=bad_model)
    with pytest.raises(InvalidArchitectureError) as error:
        import_architecture("badmodel")
    assert f"{three}.badmodel.__model__ must be a subclass of " in str(error.value)
    assert "ModelInterface, got <class 'int'>" in str(error.value)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "__authors__ is missing from __init__.py"),
        ("__authors__ = ('Ada <ada@x.org>', '@ada')", "__authors__ must be a list"),
        ("__authors__ = [('Ada', '@ada')]", "('Ada', '@ada') is not"),
        ("__authors__ = [('Ada <ada@x.org>', 'a da')]", "('Ada <ada@x.org>', 'a da')"),
        ("__authors__ = [('Ada <ada@x.org>', '@')]", "('Ada <ada@x.org>', '@')"),
    ],
)
def test_authors_are_checked(
    three: str, tmp_path: Path, line: str, message: str
) -> None:
    init = textwrap.dedent(
        f"""
        from .model import Model
        from .trainer import Trainer
        __model__ = Model
        __trainer__ = Trainer
        __maintainers__ = []
        {line}
        """
    )
    write_architecture(tmp_path, f"{three}.people", init=init)
    with pytest.raises(InvalidArchitectureError, match=re.escape(message)):
        import_architecture("people")


def test_missing_trainer(three: str, tmp_path: Path) -> None:
    init = "from .model import Model\n__model__ = Model\n"
    write_architecture(tmp_path, f"{three}.notrainer", init=init)
    with pytest.raises(
        InvalidArchitectureError,
        match=rf"{three}.notrainer.__trainer__ is missing from __init__.py",
    ):
        import_architecture("notrainer")


def test_missing_optional_dependency(three: str, tmp_path: Path) -> None:
    write_architecture(
        tmp_path, f"{three}.needy", extra_import="import not_installed_dependency_xyz"
    )
    with pytest.raises(MissingDependencyError) as error:
        import_architecture("needy")
    assert str(error.value) == (
        "the architecture 'needy' needs the package 'not_installed_dependency_xyz', "
        "which is not installed: install 'not_installed_dependency_xyz'"
    )


def test_broken_architecture_is_not_a_missing_dependency(
    three: str, tmp_path: Path
) -> None:
    write_architecture(tmp_path, f"{three}.broken", init="from .nowhere import x\n")
    with pytest.raises(ModuleNotFoundError, match="nowhere"):
        import_architecture("broken")


def test_install_hint_names_the_extra() -> None:
    entry = discovery.ArchitectureEntry("test", "stable", "atomtrain.test", None)
    assert discovery.install_hint(entry) == "pip install atomtrain[test]"
    entry = discovery.ArchitectureEntry("experimental.x_y", "stable", "m", None)
    assert discovery.install_hint(entry) is None
    external = discovery.ArchitectureEntry("x", "external", "m", None, "their-dist")
    assert discovery.install_hint(external) == "pip install their-dist"


def test_entry_point_distribution(
    three: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    write_architecture(site, "outside_pkg_one.arch", EXPERIMENTAL)
    write_distribution(site, "outside-dist", {"outside": "outside_pkg_one.arch"})
    monkeypatch.syspath_prepend(str(site))
    entries = {entry.name: entry for entry in list_architectures()}
    assert entries["outside"].maturity == "external"
    assert entries["outside"].distribution == "outside-dist"
    assert entries["outside"].description.startswith("A tiny test architecture")
    assert "outside_pkg_one.arch" not in sys.modules
    assert find_architecture("outside") == "outside_pkg_one.arch"
    assert import_architecture("outside").__name__ == "outside_pkg_one.arch"


def test_entry_point_cannot_shadow_an_in_tree_name(
    three: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    write_distribution(site, "greedy", {"typed": "greedy_pkg"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(discovery, "_WARNED_SHADOWED", set())
    with pytest.warns(discovery.ShadowedArchitectureWarning, match="'greedy'"):
        assert find_architecture("typed") == f"{three}.typed"


def _run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )


def test_listing_does_not_import_torch() -> None:
    result = _run_python(
        """
        import sys
        from atomtrain.architectures import list_architectures
        entries = list_architectures()
        assert "torch" not in sys.modules, "torch was imported"
        assert "pydantic" not in sys.modules, "pydantic was imported"
        print(len(entries))
        """
    )
    assert result.returncode == 0, result.stderr


def test_installed_external_package(tmp_path: Path) -> None:
    """A real distribution, built and installed by pip, registers an architecture."""
    project = tmp_path / "project"
    write_architecture(project / "src", "outside_arch_pkg.tinyarch", EXPERIMENTAL)
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [build-system]
            requires = ["setuptools>=61"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "outside-arch"
            version = "0.1"

            [project.entry-points."atomtrain.architectures"]
            outside_tiny = "outside_arch_pkg.tinyarch"

            [tool.setuptools.packages.find]
            where = ["src"]
            """
        )
    )
    site = tmp_path / "site"
    install = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"),
            *("--no-build-isolation", "--no-index", "--target", str(site)),
            str(project),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    result = _run_python(
        """
        import sys
        from atomtrain.architectures import list_architectures, import_architecture
        from atomtrain.cli.doc import listing
        entry = {e.name: e for e in list_architectures()}["outside_tiny"]
        print(entry.maturity, entry.distribution, entry.module)
        assert "torch" not in sys.modules
        print(listing())
        print(import_architecture("outside_tiny").__model__.__name__)
        """,
        PYTHONPATH=str(site),
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "external outside-arch outside_arch_pkg.tinyarch"
    assert "external:" in lines
    assert any(
        line.split()[:2] == ["outside_tiny", "A"] and "[outside-arch]" in line
        for line in lines
    )
    assert lines[-1] == "Model"
