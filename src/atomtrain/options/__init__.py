"""The options file: reading, ``-r`` overrides, validation and expansion.

A command that takes an options file does, in this order::

    raw, file = load_options(path, overrides)        # read + apply -r overrides
    options = validate_options(raw, file, base_dir)  # every problem at once
    devices = resolve_devices(options["device"], supported_devices)
    dtype = resolve_dtype(options["base_precision"], supported_dtypes)
    run_dir = create_run_directory(...)              # only now
    write_options(run_dir, options)

The run directory must only be created after validation (and device resolution)
succeeded, so that an invalid options file leaves nothing behind: nothing in this
package writes a file.
"""

from .base import validate_options
from .devices import DeviceError, resolve_device, resolve_devices, resolve_dtype
from .loading import OptionsFileError, apply_overrides, load_options, read_options_file

__all__ = [
    "DeviceError",
    "OptionsFileError",
    "apply_overrides",
    "load_options",
    "read_options_file",
    "resolve_device",
    "resolve_devices",
    "resolve_dtype",
    "validate_options",
]
