"""The scaffold: in-tree and external layouts, names, and an external package whose
generated tests (the whole conformance suite, training through the CLI included) pass
out of the box once installed."""

import os
import subprocess
import sys

import pytest

from atomtrain.cli.main import main
from atomtrain.scaffold import ScaffoldError, write_architecture


@pytest.mark.parametrize("name", ["MyModel", "1model", "my-model", "class"])
def test_names_that_cannot_be_packages_are_refused(tmp_path, name):
    with pytest.raises(ScaffoldError, match="cannot name an architecture"):
        write_architecture(name, tmp_path, external=True)


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
    assert (
        main(["new-architecture", "mymodel", "--external", "--output", str(tmp_path)])
        == 0
    )
    printed = capsys.readouterr().out
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
            "-W",
            "ignore::DeprecationWarning",
            "tests",
        ],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
