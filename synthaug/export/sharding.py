"""Sharded npz export: many processes (or machines) each write a disjoint part of one synthetic set.

Shard ``i`` of ``K`` holds the contiguous items of the single-process export that
``numpy.array_split`` gives it, computed by the same :class:`~synthaug.SyntheticDataset`,
so the shards need no communication, a shard written twice is the same bytes, and the
shards concatenated in order are exactly the arrays :func:`synthaug.export.export_npz`
writes for the same arguments. Every file is written atomically (temporary + rename).

Each shard writes ``shard-IIIII-of-KKKKK.npz`` and then its JSON sidecar; whichever process
finds all ``K`` sidecars present after writing its own writes ``manifest.json`` (the same
bytes whoever writes it). :func:`write_manifest` rebuilds it from the sidecars. The layout
and its checks live in :mod:`synthaug.data.exported`, which reads such a directory back.

Example:
    >>> for i in range(4):                      # or one call per process / torchrun rank
    ...     export_npz_shard(gen, "synth-shards", i, 4, num_samples=100_000, seed=1)
    >>> ds = synthaug.data.ExportedDataset("synth-shards")
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from synthaug._version import __version__
from synthaug.data.counts import check_count
from synthaug.export.reader import (
    FORMAT_VERSION,
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    SHARD_PATTERN,
    SIDECAR_FORMAT,
    check_run,
    check_shard_entry,
    read_json,
    sha256_file,
    shard_name,
    shard_range,
)
from synthaug.export.writers import sample_range, synthetic_dataset
from synthaug.generators.base import GeneratorProtocol
from synthaug.utils.atomic import atomic_output, check_output, write_text_atomic
from synthaug.validation import check_bool

logger = logging.getLogger(__name__)

__all__ = ["export_npz_shard", "generator_digest", "shard_name", "shard_range", "write_manifest"]


def generator_digest(generator: Any) -> str | None:
    """sha256 of a generator's model type, config and weights; ``None`` when it has no state_dict.

    Recorded with every shard so that shards sampled from different weights (a retrained
    bundle, a different checkpoint) are never mixed into one set.
    """
    if not isinstance(generator, torch.nn.Module):
        return None
    digest = hashlib.sha256()
    header = {"model_type": getattr(generator, "model_type", None), "config": getattr(generator, "config", None)}
    digest.update(json.dumps(header, sort_keys=True, default=str).encode())
    for name, tensor in sorted(generator.state_dict().items()):
        tensor = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"{name}:{tensor.dtype}:{list(tensor.shape)};".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _dumps(document: dict[str, Any]) -> str:
    """Deterministic JSON (sorted keys, no timestamps): a shard or manifest written twice is the same bytes."""
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def _run_differences(ours: dict[str, Any], theirs: dict[str, Any]) -> str:
    keys = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
    return ", ".join(f"{k} {str(theirs.get(k))[:60]} there vs {str(ours.get(k))[:60]} here" for k in keys[:4])


def _check_directory(out_dir: Path, run: dict[str, Any]) -> None:
    """Refuse a directory holding shards or a manifest of another run (never mix two sets)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir {str(out_dir)!r} is a file; expected a directory for the shards")
    if not out_dir.is_dir():
        return
    advice = "write into an empty directory, or delete the old shards and manifest first"
    for path in sorted(out_dir.iterdir()):
        match = SHARD_PATTERN.match(path.name)
        if match and int(match.group(2)) != run["num_shards"]:
            raise ValueError(
                f"{path} belongs to a {int(match.group(2))}-shard export, not {run['num_shards']} shards; {advice}"
            )
        if (match and match.group(3) == "json") or path.name == MANIFEST_NAME:
            theirs = read_json(path).get("run")
            if theirs != run:
                detail = _run_differences(run, theirs) if isinstance(theirs, dict) else "no valid 'run'"
                raise ValueError(f"{path} belongs to a different run ({detail}); {advice}")


def _class_counts_in(ds: Any, start: int, stop: int) -> list[int]:
    """Items of each class in ``[start, stop)`` (labels are laid out class by class)."""
    return np.bincount(ds.targets[start:stop].numpy(), minlength=len(ds.classes)).tolist()


def export_npz_shard(
    generator: GeneratorProtocol,
    out_dir: str | Path,
    shard_index: int,
    num_shards: int,
    num_samples: int | None = None,
    class_counts: Mapping[Any, int] | None = None,
    seed: int = 0,
    truncation: float = 1.0,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Write shard ``shard_index`` of ``num_shards`` of an npz export into ``out_dir``; return its path.

    The shard holds the items ``shard_range(N, num_shards, shard_index)`` of
    ``SyntheticDataset(generator, num_samples, class_counts, seed=seed, truncation=truncation)``
    as ``shard-IIIII-of-KKKKK.npz`` with arrays ``images`` uint8 ``[n, H, W, C]``, ``labels``
    int64 ``[n]``, ``indices`` int64 ``[n]`` (the global item numbers) and ``class_names``,
    followed by its sidecar ``shard-IIIII-of-KKKKK.json`` (counts per class, range, sha256,
    the run's arguments). The process that finds all sidecars present writes
    ``manifest.json``. Other processes may write other shards into ``out_dir`` at the same
    time; no communication is needed.

    Args:
        generator, num_samples, class_counts, seed, truncation: as for :func:`synthaug.export.export_npz`.
        out_dir: the shard directory (created if missing).
        shard_index: which shard, ``0 <= shard_index < num_shards``.
        num_shards: how many shards the set is split into.
        force: replace this shard if it was written before (the other shards are left alone).
        progress: show a tqdm progress bar.

    Raises:
        ValueError: bad shard numbers, or ``out_dir`` holds shards of a different run
            (another seed, size, shard count, generator...).
        FileExistsError: this shard exists and ``force`` is false.
    """
    num_shards = check_count("num_shards", num_shards)
    shard_index = check_count("shard_index", shard_index, allow_zero=True)
    if shard_index >= num_shards:
        raise ValueError(f"shard_index must be < num_shards ({num_shards}), got {shard_index}")
    out_dir = Path(out_dir)
    ds = synthetic_dataset(generator, num_samples, class_counts, seed, truncation)
    run = _run_record(generator, ds, num_shards)
    _check_directory(out_dir, run)
    path = check_output(out_dir / shard_name(shard_index, num_shards), force)
    start, stop = shard_range(len(ds), num_shards, shard_index)
    images = sample_range(ds, start, stop, progress, f"sampling {path.name}")
    with atomic_output(path, directory=False, force=force) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(
                f,
                images=images,
                labels=ds.targets[start:stop].numpy().astype(np.int64),
                indices=np.arange(start, stop, dtype=np.int64),
                class_names=np.array(ds.classes, dtype=str),
            )
        entry = {
            "file": path.name,
            "index": shard_index,
            "start": start,
            "stop": stop,
            "count": stop - start,
            "class_counts": _class_counts_in(ds, start, stop),
            "sha256": sha256_file(tmp),
            "bytes": tmp.stat().st_size,
        }
    sidecar = {
        "format": SIDECAR_FORMAT,
        "format_version": FORMAT_VERSION,
        "synthaug_version": __version__,
        "run": run,
        "shard": entry,
    }
    write_text_atomic(out_dir / shard_name(shard_index, num_shards, "json"), _dumps(sidecar))
    logger.info("wrote shard %d of %d (items %d..%d) to %s", shard_index, num_shards, start, stop - 1, path)
    _write_manifest_if_complete(out_dir, run)
    return path


def _run_record(generator: Any, ds: Any, num_shards: int) -> dict[str, Any]:
    """The arguments that define the set; equal for every shard of one export."""
    channels, height, width = generator.image_shape
    return {
        "num_samples": len(ds),
        "num_shards": num_shards,
        "seed": ds.seed,
        "truncation": float(ds.truncation),
        "class_counts": list(ds.class_counts),
        "class_names": list(ds.classes),
        "image_shape": [height, width, channels],
        "chunk_size": ds.chunk_size,
        "model_type": getattr(generator, "model_type", None) or None,
        "generator_sha256": generator_digest(generator),
    }


def _read_sidecars(out_dir: Path, run: dict[str, Any] | None) -> tuple[dict[str, Any], list[dict[str, Any]], list[int]]:
    """The run, the entries of the sidecars present (by index) and the missing indices; mixed runs refused."""
    sidecars = sorted(p for p in out_dir.glob("shard-*-of-*.json") if SHARD_PATTERN.match(p.name))
    if run is None:
        if not sidecars:
            raise ValueError(f"{out_dir}: no shard sidecars (shard-*-of-*.json) to build {MANIFEST_NAME} from")
        run = check_run(read_json(sidecars[0]).get("run"), str(sidecars[0]))
    entries: dict[int, dict[str, Any]] = {}
    for path in sidecars:
        document = read_json(path)
        if document.get("format") != SIDECAR_FORMAT or document.get("run") != run:
            raise ValueError(
                f"{path} belongs to a different run or is not a synthaug shard sidecar; shards of "
                "different runs cannot form one export"
            )
        entry = check_shard_entry(document.get("shard"), run, str(path))
        if path.name != shard_name(entry["index"], run["num_shards"], "json"):
            raise ValueError(f"{path}: describes shard {entry['index']}, not the shard its name says")
        entries[entry["index"]] = entry
    missing = [i for i in range(run["num_shards"]) if i not in entries]
    return run, [entries[i] for i in sorted(entries)], missing


def _manifest_text(run: dict[str, Any], entries: list[dict[str, Any]]) -> str:
    return _dumps({"format": MANIFEST_FORMAT, "format_version": FORMAT_VERSION, "run": run, "shards": entries})


def _write_manifest_if_complete(out_dir: Path, run: dict[str, Any]) -> Path | None:
    """Write the manifest when every shard's sidecar is present (cheap checks: names and sizes)."""
    run, entries, missing = _read_sidecars(out_dir, run)
    if missing:
        logger.info(
            "%d of %d shards written; %s will be written with the last one",
            len(entries),
            run["num_shards"],
            MANIFEST_NAME,
        )
        return None
    for entry in entries:
        path = out_dir / entry["file"]
        if not path.is_file() or path.stat().st_size != entry["bytes"]:
            raise ValueError(
                f"{path}: missing or not the size its sidecar records ({entry['bytes']} bytes); write that shard again"
            )
    manifest = out_dir / MANIFEST_NAME
    write_text_atomic(manifest, _manifest_text(run, entries))
    logger.info("all %d shards present: wrote %s", run["num_shards"], manifest)
    return manifest


def write_manifest(out_dir: str | Path, verify: bool = True) -> Path:
    """Rebuild ``out_dir/manifest.json`` from the shard sidecars; return its path.

    For when the manifest was lost, or shards were written on machines that could not see
    each other's files and were gathered afterwards. Every shard must be present; with
    ``verify`` each shard file's sha256 is checked against its sidecar (reads every file).

    Raises:
        ValueError: shards missing, sidecars of different runs, or a shard file that does
            not match its sidecar.
    """
    if not isinstance(out_dir, (str, Path)):
        raise TypeError(f"out_dir must be a directory path (str or Path), got {type(out_dir).__name__} {out_dir!r}")
    check_bool("verify", verify)
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise ValueError(f"out_dir {str(out_dir)!r} is not a directory of shards")
    run, entries, missing = _read_sidecars(out_dir, None)
    if missing:
        raise ValueError(f"{out_dir}: shard(s) {missing[:10]} of {run['num_shards']} are missing; write them first")
    for entry in entries:
        path = out_dir / entry["file"]
        if not path.is_file():
            raise ValueError(f"{path}: missing, but its sidecar is present; write that shard again")
        if verify and sha256_file(path) != entry["sha256"]:
            raise ValueError(f"{path}: sha256 does not match its sidecar; write that shard again")
    manifest = out_dir / MANIFEST_NAME
    write_text_atomic(manifest, _manifest_text(run, entries))
    return manifest
