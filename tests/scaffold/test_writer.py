"""The scaffold: in-tree and external layouts, names, authors, and an external
package whose generated tests (the whole conformance suite, training through the CLI
included) pass out of the box once installed."""

import ast
import os
import subprocess
import sys
import types

import pytest

from atomtrain.cli.main import main
from atomtrain.scaffold import ScaffoldError, write_architecture
from atomtrain.testing import ConformanceError
from atomtrain.testing.contract import check_people_are_named


@pytest.mark.parametrize("name", ["MyModel", "1model", "my-model", "class"])
def test_names_that_cannot_be_packages_are_refused(tmp_path, name):
    with pytest.raises(ScaffoldError, match="cannot name an architecture"):
        write_architecture(name, tmp_path, external=True)


def _people_module(init: str) -> types.ModuleType:
    """A module holding the people assigned in the text ``init``."""
    module = types.ModuleType("written")
    for node in ast.parse(init).body:
        if isinstance(node, ast.Assign) and node.targets[0].id.startswith("__"):
            value = node.value
            if isinstance(value, ast.List):
                setattr(module, node.targets[0].id, ast.literal_eval(value))
    return module


def test_the_placeholder_author_is_written_and_refused_by_the_suite(tmp_path, capsys):
    assert main(["new-architecture", "mymodel", "--output", str(tmp_path)]) == 0
    init = tmp_path / "src" / "atomtrain" / "experimental" / "mymodel" / "__init__.py"
    assert (
        f"replace the placeholder author in {init} (the conformance suite refuses "
        "it), or write the architecture with --author 'Name <email>' --github handle"
    ) in capsys.readouterr().out
    with pytest.raises(ConformanceError) as error:
        check_people_are_named(_people_module(init.read_text()))
    assert str(error.value).startswith(
        "written.__authors__ still names the placeholder ('Your Name "
        "<you@example.org>', '@your-github-handle') written by atomtrain "
        "new-architecture\n  What to change: write the real authors"
    )


def test_the_given_author_is_written(tmp_path):
    scaffold = write_architecture(
        "mymodel",
        tmp_path,
        False,
        author="Ada Lovelace <ada@example.org>",
        github="@ada",
    )
    module = _people_module((scaffold.package / "__init__.py").read_text())
    assert module.__maintainers__ == [("Ada Lovelace <ada@example.org>", "@ada")]
    check_people_are_named(module)
    assert not scaffold.placeholder_people


@pytest.mark.parametrize(
    "author, github, message",
    [
        ("Ada Lovelace", "ada", "--author 'Ada Lovelace' is not a name with an e-mail"),
        ("Ada <ada@example.org>", "ada lovelace", "--github 'ada lovelace' is not a"),
    ],
)
def test_authors_that_are_not_people_are_refused(tmp_path, author, github, message):
    with pytest.raises(ScaffoldError, match=message):
        write_architecture("mymodel", tmp_path, False, author=author, github=github)


def test_in_tree_layout_uses_the_experimental_name(tmp_path):
    scaffold = write_architecture("mymodel", tmp_path, external=False)
    package = tmp_path / "src" / "atomtrain" / "experimental" / "mymodel"
    assert scaffold.name == "experimental.mymodel"
    assert scaffold.package == package
    assert sorted(p.name for p in package.iterdir()) == [
        "__init__.py",
        "documentation.py",
        "model.py",
        "trainer.py",
    ]
    model = (package / "model.py").read_text()
    assert "from atomtrain.experimental.mymodel.documentation import" in model
    assert 'new_checkpoint("experimental.mymodel"' in model
    tests = (tmp_path / "tests" / "experimental" / "test_mymodel.py").read_text()
    assert 'architecture = "experimental.mymodel"' in tests
    # written outside the installed atomtrain: not importable, so no golden file yet
    assert not any(p.suffix == ".ckpt" for p in scaffold.files)
    with pytest.raises(ScaffoldError, match="already exists"):
        write_architecture("mymodel", tmp_path, external=False)


@pytest.mark.slow
def test_external_package_passes_its_generated_suite(tmp_path, capsys):
    arguments = ["new-architecture", "mymodel", "--external"]
    arguments += ["--author", "Ada Lovelace <ada@example.org>", "--github", "ada"]
    assert main([*arguments, "--output", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "placeholder" not in printed
    root = tmp_path / "atomtrain-mymodel"
    golden = root / "tests" / "checkpoints" / "mymodel-model-v1-trainer-v1.ckpt"
    assert f"wrote {golden}" in printed
    assert "name: mymodel" in printed
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(root),
        ],
        check=True,
        capture_output=True,
    )
    environment = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests",
        ],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
    # the suite filters the deprecation notices of TorchScript and metatomic
    assert "warning" not in result.stdout.splitlines()[-1], result.stdout[-3000:]
