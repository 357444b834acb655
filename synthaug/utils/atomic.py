"""Write files so a reader sees the old version or the new one, never half of either.

Everything synthaug writes (bundle files, PNGs, summaries) goes to a temporary sibling
first and is renamed into place: ``os.replace`` is atomic on POSIX within one file
system, and the fsync before it makes the content durable before the name appears.

Temporaries are named ``.NAME.PID.XXXXXXXX.tmp`` (``PID`` the writing process). A writer
killed with SIGKILL cannot delete its temporary; the next write of the same ``NAME``
deletes the temporaries whose process no longer runs (:func:`remove_stale_temporaries`),
so a killed and resumed training run, or a repeated export, leaves none behind.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some file systems do not allow opening directories
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: str | Path) -> None:
    """Flush ``path``'s content to the disk (so a late write error, e.g. ENOSPC, is raised now)."""
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _temporary_prefix(name: str) -> str:
    return f".{name}.{os.getpid()}."


def _process_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    except (OverflowError, ValueError):
        return False
    return True


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Delete the temporaries of ``path`` whose writing process no longer runs; return them.

    A process killed in the middle of :func:`atomic_file` or :func:`atomic_output` leaves
    ``.NAME.PID.XXXXXXXX.tmp``; temporaries of running processes (this one included) are
    kept, so concurrent writers are safe. A ``.NAME.PID.XXXXXXXX.old`` directory (the
    previous output, moved aside while the new one was renamed in) is deleted only when
    ``path`` exists; otherwise it holds the only copy of the previous output, and is kept
    with a warning.
    """
    path = Path(path)
    removed = []
    stem = f".{glob.escape(path.name)}."
    for leftover in sorted(path.parent.glob(stem + "*.tmp")) + sorted(path.parent.glob(stem + "*.old")):
        pid = leftover.name[len(path.name) + 2 :].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _process_running(int(pid)):
            continue
        if leftover.suffix == ".old" and not os.path.lexists(path):
            logger.warning("%s holds the previous %s of an interrupted write; it is kept", leftover, path.name)
            continue
        _remove(leftover)
        removed.append(leftover)
    return removed


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; if the block succeeds, rename it to ``path``.

    If the block raises, the temporary file is removed and ``path`` keeps its old content.
    Temporaries of ``path`` left by killed writers are deleted first.

    Example:
        >>> with atomic_file("grid.png") as tmp:
        ...     figure.savefig(tmp, format="png")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp_name = tempfile.mkstemp(prefix=_temporary_prefix(path.name), suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600; give the final file the permissions open() would have.
        os.chmod(tmp, 0o666 & ~_current_umask())
        fsync_file(tmp)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Replace ``path``'s content with ``text`` atomically."""
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def check_output(out: str | Path, force: bool = False) -> Path:
    """Return ``out`` as a Path; raise ``FileExistsError`` if it exists and ``force`` is false."""
    out = Path(out)
    if out.name in ("", ".", ".."):
        raise ValueError(f"cannot write to {str(out)!r}: name a file or directory to create")
    if os.path.lexists(out) and not force:
        kind = "directory" if out.is_dir() else "file"
        raise FileExistsError(f"{kind} {str(out)!r} already exists; pass force=True to replace it")
    return out


@contextlib.contextmanager
def atomic_output(out: str | Path, directory: bool, force: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of ``out`` (a new empty directory, or a file path) to fill.

    When the block succeeds the temporary is renamed to ``out``; when it raises (also on
    ``KeyboardInterrupt``) the temporary is deleted and ``out`` is left as it was. An
    existing ``out`` raises ``FileExistsError`` before the block runs unless ``force`` is
    true; with ``force`` it is replaced only after the new output is complete. (Only the
    rename is made durable: files inside a directory are not fsynced one by one.) A process
    killed (SIGKILL) while writing leaves ``out`` as it was and a hidden temporary, which
    the next write of ``out`` deletes.

    Example:
        >>> with atomic_output("synth", directory=True) as tmp:
        ...     (tmp / "a.txt").write_text("hello")
    """
    out = check_output(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out)
    prefix = _temporary_prefix(out.name)
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".tmp", dir=out.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=out.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        # mkdtemp/mkstemp create 0700/0600; give the output the permissions mkdir/open() would have.
        os.chmod(tmp, (0o777 if directory else 0o666) & ~_current_umask())
        if not directory:
            fsync_file(tmp)
        _rename_into_place(tmp, out, force)
        _fsync_dir(out.parent)
    finally:
        _remove(tmp)


def _rename_into_place(tmp: Path, out: Path, force: bool) -> None:
    check_output(out, force)  # it may have appeared while we were writing
    if not os.path.lexists(out):
        os.rename(tmp, out)
        return
    # Move the old output aside (a rename, so it is whole or untouched), move the new one in,
    # and delete the old one last: at every moment one complete version exists.
    aside = Path(tempfile.mkdtemp(prefix=_temporary_prefix(out.name), suffix=".old", dir=out.parent))
    try:
        os.rename(out, aside / out.name)
        try:
            os.rename(tmp, out)
        except BaseException:
            os.rename(aside / out.name, out)
            raise
    finally:
        _remove(aside)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
