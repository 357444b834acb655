"""Reading the small files synthaug trusts nothing about: checksums and bounded JSON objects."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from synthaug._version import __version__


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks (weights and shards can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json_object(
    path: Path, max_bytes: int, *, error: type[ValueError] = ValueError, too_large: str = "not a synthaug file"
) -> dict[str, Any]:
    """The JSON object in ``path``, read bounded: at most ``max_bytes`` are read, even if the file grows.

    Every failure (unreadable, too large, invalid UTF-8 or JSON, nesting too deep, an int
    of more than 4,300 digits, not an object) raises ``error`` naming the file.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as e:
        raise error(f"{path}: cannot read ({e})") from e
    if len(raw) > max_bytes:
        raise error(f"{path}: larger than {max_bytes:,} bytes; {too_large}")
    try:
        document = json.loads(raw.decode("utf-8"))
    # ValueError: malformed JSON, or an int of more than 4,300 digits; RecursionError: nesting too deep.
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise error(f"{path}: not valid JSON ({type(e).__name__}: {str(e)[:200]})") from e
    if not isinstance(document, dict):
        raise error(f"{path}: expected a JSON object, got {type(document).__name__}")
    return document


def check_format_version(
    version: int,
    supported: int,
    *,
    where: str,
    what: str,
    writer: Any = None,
    hint: str = "upgrade synthaug",
    error: type[Exception] = ValueError,
) -> int:
    """``version`` if this synthaug reads files of that format version, else ``error`` saying what would.

    The one message for every file synthaug versions (bundles, checkpoints, run configs):
    which synthaug wrote the file, when it says so, and what reads it.

    Args:
        version: the file's ``format_version`` (already checked to be an int >= 1).
        supported: the newest version this synthaug reads.
        where: the file, as messages name it.
        what: the kind of file ("bundle", "checkpoint", ...).
        writer: the file's ``synthaug_version`` (anything; only a non-empty str is quoted).
        hint: what the user can do.
        error: the exception type to raise.
    """
    if version <= supported:
        return version
    writer = writer[:40] if isinstance(writer, str) else ""
    needed = (
        f"synthaug>={writer} (it was written by synthaug {writer})"
        if writer
        else "a newer synthaug (it does not record which version wrote it)"
    )
    raise error(
        f"{where}: {what} format_version {version} needs {needed}; this synthaug {__version__} reads "
        f"format_version up to {supported}: {hint}"
    )
