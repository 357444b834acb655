"""Write a generator's samples to disk: an ImageFolder tree of PNGs, an ``.npz`` file, or a grid.

Every export is all-or-nothing. Output is written into a temporary sibling of ``out``
(``.NAME.XXXX.tmp`` in the same directory) and renamed into place only when complete, so
an error or Ctrl-C leaves the previous output (or nothing) and no temporary files. An
existing ``out`` is refused unless ``force=True``; then it is moved aside, the new output
renamed in, and only then the old one deleted.

Item ``i`` of an export is item ``i`` of
``SyntheticDataset(generator, num_samples, class_counts, seed=seed, truncation=truncation)``:
labels are laid out class by class, and the same arguments give the same pixels.

Large sets can be written in disjoint shards by many processes: see :mod:`synthaug.sharding`.

Example:
    >>> gen = synthaug.load("runs/digits-cgan")
    >>> export_imagefolder(gen, "synth", num_samples=10_000)      # synth/<class>/00000.png ...
    >>> export_npz(gen, "synth.npz", class_counts={"3": 500, "8": 500}, seed=1)
    >>> data = np.load("synth.npz")   # images uint8 [N, H, W, C], labels int64 [N], class_names str [K]
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from synthaug.data.synthetic import SyntheticDataset
from synthaug.generators.base import GeneratorProtocol
from synthaug.utils.atomic import atomic_output, check_output
from synthaug.utils.optional import require
from synthaug.viz import save_generator_grid

logger = logging.getLogger(__name__)

PNG_MODES = {1: "L", 3: "RGB"}
"""PNG mode written for each channel count (the forms torchvision's ImageFolder reads back)."""


def synthetic_dataset(
    generator: GeneratorProtocol,
    num_samples: int | None = None,
    class_counts: Mapping[Any, int] | None = None,
    seed: int = 0,
    truncation: float = 1.0,
) -> SyntheticDataset:
    """The uint8 ``[H, W, C]`` numpy-item dataset an export writes (checks every argument)."""
    return SyntheticDataset(
        generator, num_samples, class_counts=class_counts, seed=seed, image_type="numpy", truncation=truncation
    )


def _items(
    ds: SyntheticDataset, progress: bool, desc: str, start: int = 0, stop: int | None = None
) -> Iterator[tuple[int, np.ndarray, int]]:
    # In index order: the dataset generates a chunk at a time and caches it.
    stop = len(ds) if stop is None else stop
    with tqdm(total=stop - start, desc=desc, unit="img", disable=not progress, leave=False) as bar:
        for i in range(start, stop):
            image, label = ds[i]
            yield i, image, label
            bar.update(1)


def sample_range(
    ds: SyntheticDataset, start: int, stop: int, progress: bool = False, desc: str = "sampling"
) -> np.ndarray:
    """Items ``start..stop-1`` of a numpy-item dataset as one uint8 ``[n, H, W, C]`` array.

    What :func:`export_npz` stores for the whole range, and a shard
    (:func:`synthaug.sharding.export_npz_shard`) for its part: the same items, so the
    shards in order equal the single-file export.
    """
    channels, height, width = ds.model.image_shape
    images = np.empty((stop - start, height, width, channels), dtype=np.uint8)
    for i, image, _ in _items(ds, progress, desc, start, stop):
        images[i - start] = image
    return images


def folder_names(classes: list[str]) -> list[str]:
    """Check that class names can be directory names; return them.

    Names made of digits only (the default ``"0"``, ``"1"``, ...) are zero-padded to one
    width so that sorted folder order, which torchvision's ImageFolder uses to number
    classes, is the numeric order.
    """
    for name in classes:
        if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
            raise ValueError(f"class name {name!r} cannot be a directory name; rename the class or export to .npz")
    if all(name.isdigit() for name in classes):
        width = max(len(name) for name in classes)
        classes = [name.zfill(width) for name in classes]
    if len({name.casefold() for name in classes}) != len(classes):
        raise ValueError(f"class names {classes} give clashing directory names; export to .npz instead")
    return list(classes)


def _save_png(image: np.ndarray, path: Path) -> None:
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(path, format="PNG")


def export_imagefolder(
    generator: GeneratorProtocol,
    out: str | Path,
    num_samples: int | None = None,
    class_counts: Mapping[Any, int] | None = None,
    seed: int = 0,
    truncation: float = 1.0,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Write samples as an ImageFolder tree: ``out/<class name>/<index>.png``.

    Folders are the generator's ``class_names`` (else the class indices, zero-padded:
    ``0``... or ``00``, ``01``...); only classes with at least one image get one. File
    names are the item index in the export, zero-padded to one width, so sorted order is
    item order. 1-channel images are mode ``L`` PNGs, 3-channel ones ``RGB``. Read back
    with ``torchvision.datasets.ImageFolder(out)``; note that it numbers classes in
    sorted folder-name order (see its ``class_to_idx``).

    Args:
        generator: anything satisfying :class:`~synthaug.GeneratorProtocol`.
        out: the directory to create.
        num_samples, class_counts, seed, truncation: as for :class:`~synthaug.SyntheticDataset`
            (equal counts per class when ``class_counts`` is ``None``).
        force: replace an existing ``out`` (after the new tree is complete).
        progress: show a tqdm progress bar.

    Returns:
        ``out`` as a Path.

    Example:
        >>> export_imagefolder(gen, "synth", num_samples=1000)
        >>> torchvision.datasets.ImageFolder("synth").classes   # the generator's class names, sorted
    """
    out = check_output(out, force)
    ds = synthetic_dataset(generator, num_samples, class_counts, seed, truncation)
    channels = generator.image_shape[0]
    if channels not in PNG_MODES:
        raise ValueError(f"PNG export needs 1 or 3 channels, got {channels}; export to .npz instead")
    folders = folder_names(ds.classes)
    width = len(str(len(ds) - 1))
    with atomic_output(out, directory=True, force=force) as tmp:
        for c, count in enumerate(ds.class_counts):
            if count:
                (tmp / folders[c]).mkdir()
        for i, image, label in _items(ds, progress, f"writing {out.name}/"):
            _save_png(image, tmp / folders[label] / f"{i:0{width}d}.png")
    logger.info("wrote %d PNG images to %s", len(ds), out)
    return out


def export_npz(
    generator: GeneratorProtocol,
    out: str | Path,
    num_samples: int | None = None,
    class_counts: Mapping[Any, int] | None = None,
    seed: int = 0,
    truncation: float = 1.0,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Write samples to a compressed ``.npz`` file, readable with ``np.load(out)`` (no pickle).

    Arrays: ``images`` uint8 ``[N, H, W, C]`` (C is kept for grayscale: ``[N, H, W, 1]``),
    ``labels`` int64 ``[N]`` and ``class_names`` (a unicode string array, one per class
    index, also for classes with no images). ``out`` is written under exactly the name
    given (no ``.npz`` is appended). Arguments as for :func:`export_imagefolder`.

    Example:
        >>> export_npz(gen, "synth.npz", num_samples=1000)
        >>> with np.load("synth.npz") as f:
        ...     images, labels, names = f["images"], f["labels"], f["class_names"]
    """
    out = check_output(out, force)
    ds = synthetic_dataset(generator, num_samples, class_counts, seed, truncation)
    images = sample_range(ds, 0, len(ds), progress, f"sampling {out.name}")
    labels = ds.targets.numpy().astype(np.int64)
    with atomic_output(out, directory=False, force=force) as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, images=images, labels=labels, class_names=np.array(ds.classes, dtype=str))
    logger.info("wrote %d images %s to %s", len(ds), images.shape[1:], out)
    return out


def export_grid(
    generator: GeneratorProtocol,
    out: str | Path,
    per_class: int = 8,
    seed: int = 0,
    truncation: float = 1.0,
    force: bool = False,
) -> Path:
    """Write a labelled PNG grid (one row per class, ``per_class`` columns), refusing to overwrite.

    The same picture as :func:`synthaug.viz.save_generator_grid`, with the ``force`` rule of
    the other exports. Needs matplotlib (``pip install "synthaug[plots]"``), checked before
    any sampling.
    """
    require("matplotlib", "a sample grid (export_grid, synthaug sample --format grid)")
    out = check_output(out, force)
    with atomic_output(out, directory=False, force=force) as tmp:
        save_generator_grid(generator, tmp, per_class=per_class, seed=seed, truncation=truncation)
    return out
