"""What a command will write, checked before it works; extensions merged, never
deleted."""

from __future__ import annotations

from pathlib import Path

import pytest

from atomtrain.files import OutputError
from atomtrain.workflows.outputs import (
    check_extensions_directory,
    input_paths,
    merge_extensions,
    scratch_directory,
)


def test_input_paths_are_every_read_from():
    options = {
        "training_set": [
            {"systems": {"read_from": "/d/a.xyz"}, "targets": {"e": {"read_from": "b"}}}
        ],
        "architecture": {"training": {"finetune": {"read_from": "c.ckpt"}}},
        "test_set": 0.1,
    }
    assert input_paths(options) == [Path("/d/a.xyz"), Path("b"), Path("c.ckpt")]


def _library(root: Path, relative: str, content: bytes = b"\x7fELF") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_extensions_directory_rules(tmp_path):
    check_extensions_directory(None)
    check_extensions_directory(tmp_path / "new")
    _library(tmp_path / "ext", "pkg/lib/libx.so")
    _library(tmp_path / "ext", "pkg.libs/libgomp-1a2b.so.1.0.0")
    check_extensions_directory(tmp_path / "ext")
    (tmp_path / "ext" / "README").write_text("mine")
    with pytest.raises(OutputError, match=r"\('README'\)"):
        check_extensions_directory(tmp_path / "ext")
    with pytest.raises(OutputError, match="is the outputs root"):
        check_extensions_directory(
            tmp_path / "o", [("the outputs root", tmp_path / "o")]
        )
    with pytest.raises(OutputError, match="holds the working directory"):
        check_extensions_directory(
            tmp_path, [("the working directory", tmp_path / "w")]
        )
    with pytest.raises(OutputError, match="is not a directory"):
        check_extensions_directory(tmp_path / "ext" / "README")


def test_merge_adds_and_never_removes(tmp_path):
    collected, target = tmp_path / "collected", tmp_path / "target"
    _library(collected, "a/liba.so", b"A")
    _library(collected, "b/libb.so", b"B")
    kept = _library(target, "c/libc.so", b"C")
    _library(target, "a/liba.so", b"A")
    assert merge_extensions(collected, target) == [target / "b" / "libb.so"]
    assert kept.read_bytes() == b"C"
    assert (target / "b" / "libb.so").read_bytes() == b"B"


def test_merge_refuses_a_differing_library_before_copying_anything(tmp_path):
    collected, target = tmp_path / "collected", tmp_path / "target"
    _library(collected, "a/liba.so", b"A")
    _library(collected, "z/libz.so", b"Z")
    _library(target, "z/libz.so", b"another build")
    with pytest.raises(OutputError, match=r"libz\.so' differs"):
        merge_extensions(collected, target)
    assert not (target / "a").exists()
    assert (target / "z" / "libz.so").read_bytes() == b"another build"


def test_scratch_directories_are_removed(tmp_path):
    with scratch_directory(tmp_path) as scratch:
        _library(scratch, "x/libx.so")
    assert list(tmp_path.iterdir()) == []
