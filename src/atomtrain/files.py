"""Writing files without destroying anything atomtrain did not create.

Every file atomtrain writes for a user goes through :func:`atomic_output`: the
content is written to a temporary file in the destination's directory, flushed to
disk and renamed over the destination, so a crash or a full disk leaves either the
previous file or the new one, never a truncated one. Only regular files are replaced
(a device, a directory or a pipe at the destination is an error); a replaced file
keeps its permissions and a new one gets the usual ``0o666`` less the umask.

Temporary files are named ``.<pid>-<random>.<name>`` (the suffix kept for writers
that read the format from it); :func:`remove_stale_temporaries` deletes those whose
process no longer runs (a run killed while writing), and nothing else.

:func:`check_outputs` is called before any work: it refuses an output that is one of
the command's inputs, that is not a regular file, or whose directory cannot be
written, so that such a fault costs nothing and never touches the input.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import secrets
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Optional, Tuple

from .errors import UserError

_TEMPORARY = re.compile(r"^\.(\d+)-[0-9a-f]{16}\..+$")

#: Errors of the file system that are the machine's or the user's, not a bug.
ENVIRONMENT_ERRORS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EFBIG: "the file is too large for the file system",
}


class OutputError(UserError):
    """An output file that cannot be written where the user asked."""


class OutputChangedWarning(UserWarning):
    """An output file that another process replaced while this one ran, left as the
    other process wrote it."""


@dataclass(frozen=True)
class FileState:
    """What identifies the content at a path without reading it: ``None`` fields
    when nothing is there."""

    inode: Optional[int]
    size: Optional[int]
    modified_ns: Optional[int]

    @classmethod
    def of(cls, path: Path) -> FileState:
        try:
            status = os.stat(path)
        except FileNotFoundError:
            return cls(None, None, None)
        return cls(status.st_ino, status.st_size, status.st_mtime_ns)


def describe_os_error(error: OSError) -> str:
    """A short reason for ``error`` (``"no space left on the device"``)."""
    return ENVIRONMENT_ERRORS.get(error.errno or 0, error.strerror or str(error))


def is_environment_error(error: BaseException) -> bool:
    """Whether ``error`` is a file-system fault of the machine or the user (full disk,
    read-only file system, permissions) rather than a bug."""
    return isinstance(error, OSError) and error.errno in ENVIRONMENT_ERRORS


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _writable_directory(directory: Path) -> Optional[str]:
    """Why files cannot be created in ``directory`` (created later if missing), or
    ``None``."""
    existing = directory
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        return f"'{existing}' is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"the directory '{existing}' is not writable"
    if os.statvfs(existing).f_flag & os.ST_RDONLY:
        return f"the directory '{existing}' is on a read-only file system"
    return None


def check_writable_directory(directory: Path, what: str) -> None:
    """Refuse ``directory`` (created later if missing) when files cannot be created
    in it."""
    problem = _writable_directory(directory)
    if problem is not None:
        raise OutputError(f"cannot write {what} '{directory}': {problem}")


def check_output(path: Path, what: str) -> None:
    """Refuse ``path`` as an output when it exists and is not a regular file, or when
    its directory cannot be written. ``what`` names the option (``"-o"``)."""
    if path.exists() or path.is_symlink():
        mode = os.stat(path).st_mode if path.exists() else 0
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
            raise OutputError(
                f"{what} '{path}' is {kind}: atomtrain only replaces regular files "
                "and never writes onto devices, pipes or directories"
            )
    problem = _writable_directory(path.parent)
    if problem is not None:
        raise OutputError(f"cannot write {what} '{path}': {problem}")


def check_outputs(
    outputs: Iterable[Tuple[str, Path]], inputs: Iterable[Path] = ()
) -> None:
    """Check every output (``(what, path)`` pairs: the option that names it and the
    path) with :func:`check_output`; refuse two outputs at one path and an output at
    the path of an input (the same file, also through links)."""
    inputs = [Path(p) for p in inputs]
    seen: dict[Path, str] = {}
    for what, path in outputs:
        for source in inputs:
            if _same_file(path, source) or path.absolute() == source.absolute():
                raise OutputError(
                    f"{what} '{path}' is an input of this command ('{source}'): "
                    "writing there would destroy it; choose another path"
                )
        key = path.absolute()
        if key in seen:
            raise OutputError(
                f"{what} and {seen[key]} would both write '{path}'; choose two paths"
            )
        seen[key] = what
        check_output(path, what)


def temporary_path(path: Path) -> Path:
    """A new name in ``path``'s directory for a file or directory that becomes
    ``path`` once complete, recognised by :func:`remove_stale_temporaries`."""
    return path.parent / f".{os.getpid()}-{secrets.token_hex(8)}.{path.name}"


def _new_file_mode(path: Path) -> int:
    """The permissions of the file being replaced, or ``0o666`` less the umask."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be
    opened)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def atomic_output(path: Path, what: str = "output") -> Iterator[Path]:
    """Yield a temporary path for a writer to fill; on success, flush it to disk and
    rename it over ``path``. On any failure the temporary file is removed and
    ``path`` is untouched; a full disk or a read-only directory becomes an
    :class:`OutputError` naming ``path``."""
    path = Path(path)
    check_output(path, what)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        if is_environment_error(error):
            raise OutputError(
                f"cannot write {what} '{path}': {describe_os_error(error)}"
            ) from None
        raise
    temporary = temporary_path(path)
    mode = _new_file_mode(path)
    try:
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        yield temporary
        os.chmod(temporary, mode)
        _fsync(temporary)
        os.replace(temporary, path)
    except OSError as error:
        if is_environment_error(error):
            raise OutputError(
                f"could not write {what} '{path}': {describe_os_error(error)}; "
                "the file that was there (if any) is unchanged"
            ) from None
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    fsync_directory(path.parent)


class _KeptWriteErrors(io.RawIOBase):
    """A binary file that keeps the :class:`OSError` of a failed write, for writers
    that report it as something else (``torch.save`` raises a ``RuntimeError`` about
    positions when the disk is full)."""

    def __init__(self, file: BinaryIO) -> None:
        super().__init__()
        self.file = file
        self.error: Optional[OSError] = None

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        try:
            return self.file.write(data)
        except OSError as error:
            self.error = error
            raise


def write_binary(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` with ``path`` opened for writing; a write that failed in the
    file system is raised as its :class:`OSError`, whatever ``write`` turned it
    into."""
    with open(path, "wb", buffering=0) as file:
        kept = _KeptWriteErrors(file)
        try:
            write(kept)  # type: ignore[arg-type]
        except Exception:
            if kept.error is not None:
                raise kept.error from None
            raise


def require_free_space(directory: Path, size: int, what: str) -> None:
    """Refuse to write about ``size`` bytes into ``directory`` (twice that, with a
    margin, is asked for) when its file system has less free space: for writers
    that abort the process on a full disk instead of raising (``torch.jit.save``)."""
    existing = directory
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    status = os.statvfs(existing)
    free = status.f_bavail * status.f_frsize
    needed = 2 * size + (16 << 20)
    if free < needed:
        raise OutputError(
            f"not enough free space to write {what} into '{directory}': about "
            f"{needed / 1e6:.0f} MB needed, {free / 1e6:.0f} MB free"
        )


def copy_file(source: Path, target: Path, what: str = "output") -> None:
    """Copy ``source`` to ``target`` atomically (:func:`atomic_output`)."""
    with atomic_output(target, what) as temporary:
        shutil.copyfile(source, temporary)


def write_text(path: Path, text: str, what: str = "output") -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; the path."""
    with atomic_output(path, what) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return path


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Delete the temporary files (and scratch directories) that a killed atomtrain
    process left in ``directory``: only names atomtrain gives them, and only when
    their process is gone; the paths removed."""
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for path in directory.iterdir():
        match = _TEMPORARY.match(path.name)
        if match is None or path.is_symlink() or _running(int(match.group(1))):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        removed.append(path)
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
