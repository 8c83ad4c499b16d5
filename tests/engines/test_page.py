"""The page ``docs/engines.md`` holds one section per engine, each made of files
and the commands that use them, as the engine tests run them."""

from __future__ import annotations

from engines_page import file_name, sections


def test_every_engine_has_a_section_of_files_and_commands() -> None:
    found = sections()
    assert list(found) == ["The model", "ASE", "TorchSim", "i-PI", "LAMMPS"]
    for heading, blocks in found.items():
        assert blocks[-1][0] == "bash", heading
        files = [file_name(text) for language, text in blocks if language != "bash"]
        assert [name for name in files if name is not None], heading
    lammps = [file_name(text) for _, text in found["LAMMPS"]]
    assert lammps == [None, "to_lammps.py", "in.lammps", None]
    assert "lammps-metatomic" in found["LAMMPS"][0][1]
