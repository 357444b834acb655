"""Read an exported synthetic set back as a Dataset: sharded npz directories and single ``.npz`` files.

A sharded export (written by :func:`synthaug.sharding.export_npz_shard`, or
``synthaug sample ... --shards K``) is a directory::

    manifest.json                      the run's arguments and every shard's range, counts, sha256
    shard-00000-of-00004.npz           images uint8 [n, H, W, C], labels int64 [n], indices int64 [n], class_names
    shard-00000-of-00004.json          the shard's sidecar (what the manifest is rebuilt from)
    ...

Shard ``i`` of ``K`` holds the contiguous items ``start..stop-1`` of the single-process
export (split like ``numpy.array_split``), so the shards in order are exactly the arrays
:func:`synthaug.export.export_npz` writes for the same arguments.

This module owns the format (names, the manifest's fields and their checks) so that the
writer and the reader agree on one definition. Nothing here unpickles: files are JSON and
``np.load(..., allow_pickle=False)``.
"""

from __future__ import annotations

import bisect
import re
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision.datasets import VisionDataset
from torchvision.transforms.functional import to_pil_image

from synthaug.data.items import IMAGE_TYPES, ImageType, apply_transforms, check_callable
from synthaug.utils.files import read_json_object, sha256_file
from synthaug.validation import check_bool, check_choice, check_index

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "synthaug-npz-shards"
SIDECAR_FORMAT = "synthaug-npz-shard"
FORMAT_VERSION = 1
MAX_JSON_BYTES = 64 * 2**20
"""A manifest or sidecar larger than this is refused unread (a manifest of 10,000 shards is a few MB)."""
SHARD_PATTERN = re.compile(r"^shard-(\d{5,})-of-(\d{5,})\.(npz|json)$")
RUN_KEYS = {
    "num_samples": int,
    "num_shards": int,
    "seed": int,
    "truncation": float,
    "class_counts": list,
    "class_names": list,
    "image_shape": list,
    "chunk_size": int,
    "model_type": (str, type(None)),
    "generator_sha256": (str, type(None)),
}
"""The fields that identify a run: shards whose ``run`` differs in any of them are never mixed."""
SHARD_KEYS = {
    "file": str,
    "index": int,
    "start": int,
    "stop": int,
    "count": int,
    "class_counts": list,
    "sha256": str,
    "bytes": int,
}
"""The fields of one shard's entry (in its sidecar and in the manifest)."""
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
"""The ``.npy`` header versions ``np.save`` writes (3.0 only adds UTF-8 field names, which exports never have)."""


def shard_name(index: int, num_shards: int, suffix: str = "npz") -> str:
    """``shard-00003-of-00008.npz``: the file name of shard ``index`` of ``num_shards``."""
    return f"shard-{index:05d}-of-{num_shards:05d}.{suffix}"


def shard_range(num_items: int, num_shards: int, index: int) -> tuple[int, int]:
    """The items ``[start, stop)`` of shard ``index`` of ``num_shards``, split like ``numpy.array_split``.

    The first ``num_items % num_shards`` shards get one item more; every shard is contiguous,
    so the shards in index order are the single-process export. Shards may be empty when
    there are more shards than items.
    """
    base, extra = divmod(num_items, num_shards)
    start = index * base + min(index, extra)
    return start, start + base + (1 if index < extra else 0)


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path`` (size-bounded); ``ValueError`` naming the file otherwise."""
    if not path.is_file():
        raise ValueError(f"{path}: not found or not a regular file")
    return read_json_object(path, MAX_JSON_BYTES, too_large="not a synthaug manifest or sidecar")


def _check_fields(value: Any, fields: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``value`` as a dict with exactly ``fields``, each of its type (bools are not ints)."""
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an object, got {type(value).__name__}")
    missing, unknown = sorted(set(fields) - set(value)), sorted(set(value) - set(fields))
    if missing or unknown:
        raise ValueError(f"{where}: missing key(s) {missing}, unknown key(s) {unknown}; expected {sorted(fields)}")
    for key, kind in fields.items():
        ok = isinstance(value[key], kind) and not isinstance(value[key], bool)
        if kind is float:  # JSON writes 1.0 as 1.0, but hand-written files may say 1
            ok = isinstance(value[key], (int, float)) and not isinstance(value[key], bool)
        if not ok:
            raise ValueError(f"{where}: key {key!r} has type {type(value[key]).__name__}, expected {kind}")
    return value


def _check_int_list(values: list, length: int, where: str) -> list[int]:
    if len(values) != length or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        raise ValueError(f"{where}: expected {length} non-negative ints, got {values!r}"[:300])
    return values


def check_run(run: Any, where: str) -> dict[str, Any]:
    """Check a ``run`` object (the dataset arguments every shard of one export shares)."""
    run = _check_fields(run, RUN_KEYS, f"{where} 'run'")
    num_classes = len(run["class_names"])
    if num_classes < 1 or not all(isinstance(name, str) for name in run["class_names"]):
        raise ValueError(f"{where}: 'run.class_names' must be a non-empty list of strings")
    counts = _check_int_list(run["class_counts"], num_classes, f"{where}: 'run.class_counts'")
    shape = _check_int_list(run["image_shape"], 3, f"{where}: 'run.image_shape' ([H, W, C])")
    if min(shape) < 1:
        raise ValueError(f"{where}: 'run.image_shape' must be positive [H, W, C], got {shape}")
    if run["num_shards"] < 1 or run["num_samples"] != sum(counts) or run["num_samples"] < 1:
        raise ValueError(
            f"{where}: 'run' needs num_shards >= 1 and num_samples = sum(class_counts) >= 1, got "
            f"num_shards={run['num_shards']}, num_samples={run['num_samples']}, class_counts sum {sum(counts)}"
        )
    return run


def check_shard_entry(entry: Any, run: dict[str, Any], where: str) -> dict[str, Any]:
    """Check one shard's entry against ``run``: its name, its array_split range and its counts."""
    entry = _check_fields(entry, SHARD_KEYS, where)
    index, num_shards = entry["index"], run["num_shards"]
    if not 0 <= index < num_shards:
        raise ValueError(f"{where}: shard index {index} is out of range for {num_shards} shards")
    if entry["file"] != shard_name(index, num_shards):
        raise ValueError(f"{where}: file {entry['file']!r} should be {shard_name(index, num_shards)!r}")
    expected = shard_range(run["num_samples"], num_shards, index)
    if (entry["start"], entry["stop"]) != expected:
        raise ValueError(
            f"{where}: shard {index} covers items [{entry['start']}, {entry['stop']}), expected "
            f"[{expected[0]}, {expected[1]}) for {run['num_samples']} items in {num_shards} shards "
            "(overlapping or gapped ranges)"
        )
    counts = _check_int_list(entry["class_counts"], len(run["class_names"]), f"{where}: 'class_counts'")
    if entry["count"] != entry["stop"] - entry["start"] or sum(counts) != entry["count"]:
        raise ValueError(f"{where}: count {entry['count']} does not match its range or its class_counts {counts}")
    if not re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]):
        raise ValueError(f"{where}: 'sha256' must be 64 lowercase hex digits, got {entry['sha256'][:80]!r}")
    return entry


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """Read and check ``directory/manifest.json``: every shard listed once, ranges tiling ``[0, N)``."""
    path = Path(directory) / MANIFEST_NAME
    manifest = read_json(path)
    if manifest.get("format") != MANIFEST_FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: not a synthaug shard manifest (expected format {MANIFEST_FORMAT!r} version "
            f"{FORMAT_VERSION}, got {manifest.get('format')!r} version {manifest.get('format_version')!r})"
        )
    run = check_run(manifest.get("run"), str(path))
    shards = manifest.get("shards")
    if not isinstance(shards, list) or len(shards) != run["num_shards"]:
        found = len(shards) if isinstance(shards, list) else type(shards).__name__
        raise ValueError(f"{path}: 'shards' must list all {run['num_shards']} shards, got {found}")
    for i, entry in enumerate(shards):
        check_shard_entry(entry, run, f"{path} shard {i}")
        if entry["index"] != i:
            raise ValueError(f"{path}: shard {i} has index {entry['index']}; shards must be listed in index order")
    return manifest


def npz_header(path: Path, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of array ``name`` in the ``.npz`` at ``path``, read from its header only (no decompression of the data)."""
    try:
        with zipfile.ZipFile(path) as archive, archive.open(f"{name}.npy") as member:
            version = np.lib.format.read_magic(member)
            read_header = HEADER_READERS.get(version)
            if read_header is None:
                raise ValueError(f"unsupported .npy format version {version}")
            shape, _, dtype = read_header(member)
    except KeyError:
        raise ValueError(f"{path}: has no array {name!r}") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise ValueError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from e
    return tuple(shape), dtype


def _expect_array(path: Path, name: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
    """``ValueError`` naming the file unless array ``name`` has exactly ``shape`` and ``dtype``."""
    found_shape, found_dtype = npz_header(path, name)
    if found_shape != shape or found_dtype != dtype:
        raise ValueError(f"{path}: array {name!r} is {found_dtype} {list(found_shape)}, expected {dtype} {list(shape)}")


def load_npz(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays ``names`` of the ``.npz`` at ``path``, never unpickling."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return {name: f[name] for name in names}
    except KeyError as e:
        raise ValueError(f"{path}: has no array {e}") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: cannot read ({type(e).__name__}: {e})") from e


class _Part:
    """One file of an export: its path and the global items ``[start, stop)`` it holds."""

    def __init__(self, path: Path, start: int, stop: int, class_counts: list[int]) -> None:
        self.path, self.start, self.stop, self.class_counts = path, start, stop, class_counts


class ExportedDataset(VisionDataset):
    """An exported synthetic set (sharded directory or single ``.npz``) as a map-style Dataset.

    Reads what :func:`synthaug.sharding.export_npz_shard` (``synthaug sample --shards``) and
    :func:`synthaug.export.export_npz` write, so a large set generated once on many GPUs is
    trained on without the generator. Items are ``(image, label)`` in export order, the
    same as ``SyntheticDataset(gen, ..., seed=seed)[i]`` quantised to uint8.

    Shards are loaded when first read and one is kept per process (per DataLoader worker),
    so memory stays at about one shard; read in order, or shuffle within shards, for speed.
    On open the manifest is checked (every shard listed once, contiguous ranges, no missing
    or extra shard files, array shapes and dtypes), and with ``verify=True`` every shard's
    sha256 too (reads each file once).

    Args:
        path: a sharded export directory (holding ``manifest.json``), its ``manifest.json``,
            or a single ``.npz`` from :func:`~synthaug.export.export_npz`.
        transform, target_transform: as for torchvision datasets.
        image_type: ``"pil"`` (default: mode ``L`` or ``RGB``), ``"tensor"`` (float32
            ``[C, H, W]`` in [0, 1]) or ``"numpy"`` (uint8 ``[H, W, C]``).
        verify: check every shard's sha256 against the manifest on open (the manifest's
            structure and the array headers are always checked).

    Example:
        >>> ds = ExportedDataset("synth-shards", transform=transforms.ToTensor())
        >>> image, label = ds[0]                 # [C, H, W] in [0, 1], int
        >>> ds = SyntheticDataset.from_export("synth.npz", image_type="numpy")
    """

    def __init__(
        self,
        path: str | Path,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        image_type: ImageType = "pil",
        verify: bool = True,
    ) -> None:
        check_callable("transform", transform)
        check_callable("target_transform", target_transform)
        check_choice("image_type", image_type, IMAGE_TYPES)
        check_bool("verify", verify)
        if not isinstance(path, (str, Path)):
            raise TypeError(f"path must be a directory or .npz path (str or Path), got {type(path).__name__} {path!r}")
        path = Path(path)
        super().__init__(root=str(path), transform=transform, target_transform=target_transform)
        self.image_type = image_type
        self.manifest: dict[str, Any] | None = None
        if path.is_file() and path.name == MANIFEST_NAME:
            path = path.parent
        if path.is_dir():
            self._open_shards(path, verify)
        elif path.is_file():
            self._open_single(path)
        else:
            raise ValueError(f"path {str(path)!r} does not exist; expected a sharded export directory or an .npz file")
        self._starts = [part.start for part in self.parts]
        self._loaded: tuple[int, dict[str, np.ndarray]] | None = None  # (part index, arrays): the last shard read
        self._targets: torch.Tensor | None = None
        self._worker = None

    def _open_shards(self, directory: Path, verify: bool) -> None:
        if not (directory / MANIFEST_NAME).exists():
            sidecars = sorted(p.name for p in directory.glob("shard-*-of-*.json"))
            raise ValueError(
                f"{directory}: no {MANIFEST_NAME}; the export is incomplete ({len(sidecars)} shard "
                "sidecar(s) found) or not a sharded export. Write the missing shards, or rebuild the "
                "manifest with synthaug.sharding.write_manifest(directory)"
            )
        self.manifest = read_manifest(directory)
        run = self.manifest["run"]
        listed = {entry["file"] for entry in self.manifest["shards"]}
        extra = sorted(
            p.name
            for p in directory.iterdir()
            if SHARD_PATTERN.match(p.name) and p.suffix == ".npz" and p.name not in listed
        )
        if extra:
            raise ValueError(
                f"{directory}: shard file(s) {extra[:5]} are not in {MANIFEST_NAME} (another run's "
                "shards?); move them away"
            )
        self.classes = list(run["class_names"])
        self.image_shape = tuple(run["image_shape"])
        self.parts = []
        for entry in self.manifest["shards"]:
            path = directory / entry["file"]
            self._check_shard_file(path, entry, verify)
            self.parts.append(_Part(path, entry["start"], entry["stop"], entry["class_counts"]))

    def _check_shard_file(self, path: Path, entry: dict[str, Any], verify: bool) -> None:
        if not path.is_file():
            raise ValueError(f"{path}: missing (listed in {MANIFEST_NAME} as shard {entry['index']})")
        size = path.stat().st_size
        if size != entry["bytes"]:
            raise ValueError(
                f"{path}: {size} bytes, but {MANIFEST_NAME} records {entry['bytes']}; the shard is "
                "truncated, corrupted or from another run"
            )
        if verify and sha256_file(path) != entry["sha256"]:
            raise ValueError(f"{path}: sha256 does not match {MANIFEST_NAME}; the shard is corrupted or was replaced")
        n = entry["count"]
        _expect_array(path, "images", (n, *self.image_shape), np.dtype(np.uint8))
        _expect_array(path, "labels", (n,), np.dtype(np.int64))
        _expect_array(path, "indices", (n,), np.dtype(np.int64))

    def _open_single(self, path: Path) -> None:
        images_shape, images_dtype = npz_header(path, "images")
        if images_dtype != np.uint8 or len(images_shape) != 4 or min(images_shape[1:], default=0) < 1:
            raise ValueError(
                f"{path}: array 'images' is {images_dtype} {list(images_shape)}, expected uint8 [N, H, W, C]"
            )
        _expect_array(path, "labels", images_shape[:1], np.dtype(np.int64))
        names_shape, names_dtype = npz_header(path, "class_names")
        if names_dtype.kind != "U" or len(names_shape) != 1 or names_shape[0] < 1:
            raise ValueError(f"{path}: array 'class_names' is {names_dtype} {list(names_shape)}, expected unicode [K]")
        self.classes = load_npz(path, ("class_names",))["class_names"].tolist()
        self.image_shape = tuple(images_shape[1:])
        labels = load_npz(path, ("labels",))["labels"]
        self._check_labels(path, labels)
        self.parts = [_Part(path, 0, images_shape[0], np.bincount(labels, minlength=len(self.classes)).tolist())]

    def _check_labels(self, path: Path, labels: np.ndarray) -> None:
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise ValueError(
                f"{path}: labels must be in [0, {len(self.classes) - 1}], got values in "
                f"[{labels.min()}, {labels.max()}]"
            )

    def __len__(self) -> int:
        return self.parts[-1].stop

    @property
    def targets(self) -> torch.Tensor:
        """All labels in item order (read from the files' ``labels`` arrays once, not their images)."""
        if self._targets is None:
            labels = [self._read_labels(part) for part in self.parts]
            self._targets = torch.from_numpy(np.concatenate(labels)) if labels else torch.zeros(0, dtype=torch.long)
        return self._targets

    def _read_labels(self, part: _Part) -> np.ndarray:
        labels = load_npz(part.path, ("labels",))["labels"]
        self._check_labels(part.path, labels)
        if np.bincount(labels, minlength=len(self.classes)).tolist() != part.class_counts:
            raise ValueError(f"{part.path}: labels do not match the class counts {part.class_counts} recorded for it")
        return labels

    def _arrays(self, k: int) -> dict[str, np.ndarray]:
        """The arrays of part ``k``, loaded now unless it is the last part read (one part kept per process)."""
        if self._loaded is not None and self._loaded[0] == k:
            return self._loaded[1]
        self._loaded = None  # free the previous shard before loading the next
        part = self.parts[k]
        sharded = self.manifest is not None
        arrays = load_npz(
            part.path, ("images", "labels", "indices", "class_names") if sharded else ("images", "labels")
        )
        n = part.stop - part.start
        if arrays["images"].dtype != np.uint8 or arrays["images"].shape != (n, *self.image_shape):
            raise ValueError(
                f"{part.path}: array 'images' is {arrays['images'].dtype} {list(arrays['images'].shape)}, "
                f"expected uint8 {[n, *self.image_shape]}"
            )
        if sharded and not np.array_equal(arrays["indices"], np.arange(part.start, part.stop)):
            raise ValueError(
                f"{part.path}: 'indices' are not the items [{part.start}, {part.stop}) of its manifest entry"
            )
        if sharded and arrays["class_names"].tolist() != self.classes:
            raise ValueError(
                f"{part.path}: class_names {arrays['class_names'].tolist()[:10]} differ from the manifest's "
                f"{self.classes[:10]}"
            )
        self._check_labels(part.path, arrays["labels"])
        self._loaded = (k, arrays)
        return arrays

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        index = check_index(index, len(self))
        # Empty shards (more shards than items) come last and start at len(self): never chosen here.
        k = bisect.bisect_right(self._starts, index) - 1
        arrays = self._arrays(k)
        offset = index - self.parts[k].start
        image, target = self._convert(arrays["images"][offset]), int(arrays["labels"][offset])
        return apply_transforms(self, image, target)

    def _convert(self, hwc: np.ndarray) -> Any:
        """A uint8 ``[H, W, C]`` array in this dataset's ``image_type`` (a new object: callers may modify it)."""
        if self.image_type == "numpy":
            return hwc.copy()
        chw = torch.from_numpy(hwc.copy()).permute(2, 0, 1)
        if self.image_type == "pil":
            return to_pil_image(chw)
        return chw.float().div_(255)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_loaded"] = None  # workers load their own shards; pickles stay small
        state["_worker"] = None
        return state

    def extra_repr(self) -> str:
        kind = f"{len(self.parts)} shard(s)" if self.manifest is not None else "single .npz"
        lines = [
            f"Export: {kind}, image shape [H, W, C] {list(self.image_shape)}, image_type: {self.image_type}",
            f"Classes: {len(self.classes)}",
        ]
        if self.manifest is not None:
            run = self.manifest["run"]
            lines.append(f"Seed: {run['seed']}, truncation: {run['truncation']}, generator: {run['model_type']}")
        return "\n".join(lines)
