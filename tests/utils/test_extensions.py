"""An exported SOAP-BPNN model's extensions folder holds a copy of sphericart's
library: loading the model from it and then building a SOAP-BPNN model in the same
process must not abort the process. Each case runs in a fresh interpreter, since the
failure it guards against is torch aborting the process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "soap_bpnn"))

from soap_helpers import ethanol_dataset, tiny_model

#: Builds a SOAP-BPNN model (which imports sphericart.torch) after ``LOAD``.
SCRIPT = """
import sys
{load}
from atomtrain.errors import UserError
from atomtrain.soap_bpnn.spherical_expansion import SphericalExpansion
try:
    SphericalExpansion(3, 4.0, 1.0, 3, 3)
except UserError as error:
    print("UserError:", error)
    sys.exit(3)
print("built")
"""

#: The exported model loaded as a user's script does, with metatomic alone.
WITH_METATOMIC = (
    "from metatomic.torch import load_atomistic_model\n"
    "load_atomistic_model('model.pt', extensions_directory='extensions')"
)
#: The exported model loaded as atomtrain's commands do.
WITH_ATOMTRAIN = (
    "from pathlib import Path\n"
    "from atomtrain.workflows.exported import load_exported_model\n"
    "load_exported_model(Path('model.pt'), Path('extensions'))"
)
#: The installed packages registered first, as the error message advises.
REGISTERED_FIRST = (
    "from atomtrain.utils.extensions import register_installed_extensions\n"
    f"register_installed_extensions()\n{WITH_METATOMIC}"
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("exported")
    model = tiny_model(ethanol_dataset())
    model.export().save(
        str(directory / "model.pt"), collect_extensions=str(directory / "extensions")
    )
    assert list((directory / "extensions").rglob("libsphericart_torch.so"))
    return directory


def _run(directory: Path, load: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT.format(load=load)],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("load", [WITH_ATOMTRAIN, REGISTERED_FIRST])
def test_model_loaded_from_its_extensions_then_soap_bpnn_built(exported, load):
    result = _run(exported, load)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("built")


def test_library_copy_loaded_first_is_a_clear_error_not_an_abort(exported):
    result = _run(exported, WITH_METATOMIC)
    assert result.returncode == 3, result.stderr[-3000:]
    assert "extensions folder" in result.stdout
    assert "register_installed_extensions()" in result.stdout


@pytest.mark.parametrize("folder, imported", [("extensions", True), ("empty", False)])
def test_only_the_libraries_a_folder_holds_a_copy_of_are_registered(
    exported, folder, imported
):
    (exported / "empty").mkdir(exist_ok=True)
    script = (
        "import sys\n"
        "from atomtrain.utils.extensions import register_installed_extensions\n"
        f"register_installed_extensions({folder!r})\n"
        "print('sphericart.torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=exported, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[-1] == str(imported)
