"""The command line: help without torch, dispatch, and how errors are reported."""

import io
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from atomtrain import __version__
from atomtrain.cli import main as cli
from atomtrain.errors import Interrupted, UserError


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "atomtrain", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def test_help_lists_every_subcommand_without_importing_torch():
    code = (
        "import sys\n"
        "from atomtrain.cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 0\n"
        "heavy = [m for m in ('torch', 'metatomic', 'metatensor', 'ase', 'numpy')\n"
        "         if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout
    for name, help_line in cli.COMMANDS.items():
        assert name in result.stdout
        assert help_line.split()[0] in result.stdout


def test_each_subcommand_follows_the_convention():
    for name, help_line in cli.COMMANDS.items():
        module = cli.import_command(name)
        assert help_line == module.HELP, f"atomtrain.cli.{name}.HELP differs"
        assert callable(module.add_arguments)
        assert callable(module.run)


def test_version(capsys):
    with pytest.raises(SystemExit) as exit:
        cli.main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out.strip() == f"atomtrain {__version__}"


def test_no_command_prints_help_and_fails(capsys):
    assert cli.main([]) == cli.EXIT_USAGE
    assert "usage: atomtrain" in capsys.readouterr().err


def fake_command(monkeypatch, error: BaseException) -> None:
    """Make ``atomtrain boom`` a subcommand whose ``run`` raises ``error``."""

    class Module:
        HELP = "raise an error"

        @staticmethod
        def add_arguments(parser):
            parser.add_argument("--flag", action="store_true")

        @staticmethod
        def run(args):
            raise error

    monkeypatch.setitem(cli.COMMANDS, "boom", Module.HELP)
    real_import = cli.import_command
    monkeypatch.setattr(
        cli,
        "import_command",
        lambda name: Module if name == "boom" else real_import(name),
    )


def test_user_error_is_printed_without_traceback(capsys, monkeypatch):
    fake_command(monkeypatch, UserError("the file 'x.xyz' has no energy\nsecond line"))
    assert cli.main(["boom", "--flag"]) == 1
    err = capsys.readouterr().err
    assert err == "error: the file 'x.xyz' has no energy\nsecond line\n"


def test_user_error_with_debug_shows_the_traceback(capsys, monkeypatch):
    fake_command(monkeypatch, UserError("bad input"))
    assert cli.main(["--debug", "boom"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert err.endswith("error: bad input\n")


def test_bug_writes_the_traceback_to_a_file(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(cli.tempfile, "tempdir", None)
    fake_command(monkeypatch, ZeroDivisionError("division by zero\nmore"))
    assert cli.main(["boom"]) == 1
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0] == "error: ZeroDivisionError: division by zero"
    assert "Traceback" not in err
    logs = list(tmp_path.glob("atomtrain-error-*.log"))
    assert len(logs) == 1
    assert lines[1].endswith(f"the full traceback is in {logs[0]}")
    text = logs[0].read_text()
    assert text.startswith(f"atomtrain {__version__}\ncommand: atomtrain")
    assert "Traceback (most recent call last)" in text
    assert "ZeroDivisionError: division by zero" in text


def test_keyboard_interrupt_exits_130(capsys, monkeypatch):
    fake_command(monkeypatch, KeyboardInterrupt())
    assert cli.main(["boom"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


@pytest.mark.parametrize(
    ("number", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)]
)
def test_an_interrupted_command_exits_with_its_signal(
    capsys, monkeypatch, number, code
):
    message = "training interrupted by X; checkpoint written to run/model.ckpt"
    fake_command(monkeypatch, Interrupted(message, number))
    assert cli.main(["boom"]) == code
    assert capsys.readouterr().err == message + "\n"


def test_a_closed_output_stops_quietly(capsys, monkeypatch):
    fake_command(monkeypatch, BrokenPipeError(32, "Broken pipe"))
    assert cli.main(["boom"]) == cli.EXIT_BROKEN_PIPE == 141
    assert capsys.readouterr().err == ""


class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_output_stops_the_log_messages_too(capsys, monkeypatch):
    """A plain logging handler would print a "Logging error" traceback per message
    and carry on."""
    fake_command(monkeypatch, AssertionError("not raised: run is replaced"))

    def run(args):
        logging.getLogger("atomtrain.train").info("epoch 1")
        return 0

    monkeypatch.setattr(cli.import_command("boom"), "run", run)
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert cli.main(["boom"]) == 141
    assert capsys.readouterr().err == ""


def test_user_errors_print_one_line_through_the_console_script(tmp_path):
    result = run_cli("export", "model.ckpt", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "error: checkpoint 'model.ckpt' does not exist\n"
    assert os.listdir(tmp_path) == []


def test_subcommand_arguments_are_checked(tmp_path):
    result = run_cli("train", cwd=tmp_path)
    assert result.returncode == 2
    assert "the following arguments are required: options" in result.stderr
