"""synthaug.export: ImageFolder trees and .npz files that equal SyntheticDataset, written all-or-nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torchvision.datasets import ImageFolder

import synthaug.export.writers as export
from synthaug.data.synthetic import SyntheticDataset
from synthaug.export import export_grid, export_imagefolder, export_npz, folder_names
from synthaug.utils.atomic import atomic_output

NAMES = ["left", "right", "top"]
EXPORTS = {"imagefolder": export_imagefolder, "npz": export_npz}


@pytest.fixture(scope="module")
def gen(generator_factory):
    return generator_factory("cgan", class_names=NAMES)


def items(generator, n=None, class_counts=None, seed=0, truncation=1.0) -> SyntheticDataset:
    return SyntheticDataset(
        generator, n, class_counts=class_counts, seed=seed, image_type="numpy", truncation=truncation
    )


def read_array(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def hidden_entries(folder: Path) -> list[str]:
    """Temporary siblings (``.NAME.XXXX.tmp`` / ``.old``) left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def write_previous(out: Path, fmt: str) -> dict[str, bytes] | bytes:
    """A stand-in for an earlier export at ``out``; returns its content for comparison."""
    if fmt == "imagefolder":
        (out / "old").mkdir(parents=True)
        (out / "old" / "0.png").write_bytes(b"old image")
        return tree_bytes(out)
    out.write_bytes(b"old arrays")
    return out.read_bytes()


def content(out: Path, fmt: str) -> dict[str, bytes] | bytes:
    return tree_bytes(out) if fmt == "imagefolder" else out.read_bytes()


# -- ImageFolder ----------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 3])
def test_imagefolder_round_trips_through_torchvision(generator_factory, tmp_path, channels):
    gen = generator_factory("cgan", channels=channels, class_names=NAMES)
    out = export_imagefolder(gen, tmp_path / "synth", num_samples=10, seed=2, progress=False)
    assert out == tmp_path / "synth"
    expected = items(gen, 10, seed=2)
    folder = ImageFolder(out, loader=read_array)
    assert folder.classes == NAMES and folder.class_to_idx == {name: c for c, name in enumerate(NAMES)}
    assert np.bincount(folder.targets).tolist() == [4, 3, 3]
    assert folder.targets == expected.targets.tolist()
    for i, (image, label) in enumerate(folder):
        want, want_label = expected[i]
        assert label == want_label
        assert image.dtype == np.uint8
        assert np.array_equal(image, want[..., 0] if channels == 1 else want)
    # torchvision's default loader (PIL, converted to RGB) reads the tree too.
    assert ImageFolder(out)[0][0].size == (8, 8)
    assert sorted(p.name for p in (out / "top").iterdir()) == ["7.png", "8.png", "9.png"]  # item indices
    assert hidden_entries(tmp_path) == []


def test_imagefolder_honours_class_counts(gen, tmp_path):
    out = export_imagefolder(gen, tmp_path / "synth", class_counts={"top": 3, 0: 2}, progress=False)
    # Only classes with images get a folder, so ImageFolder finds no empty class.
    assert sorted(p.name for p in out.iterdir()) == ["left", "top"]
    folder = ImageFolder(out, loader=read_array)
    assert folder.classes == ["left", "top"]
    assert [Path(path).name for path, _ in folder.samples] == ["0.png", "1.png", "2.png", "3.png", "4.png"]
    expected = items(gen, class_counts={"top": 3, 0: 2})
    for i, (image, _) in enumerate(folder):
        assert np.array_equal(image, expected[i][0][..., 0])
        assert folder.classes[folder.targets[i]] == NAMES[expected[i][1]]


def test_unnamed_classes_get_folders_that_sort_numerically(generator_factory, tmp_path):
    gen = generator_factory("cgan", num_classes=12)
    out = export_imagefolder(gen, tmp_path / "synth", num_samples=12, progress=False)
    folder = ImageFolder(out)
    assert folder.classes == [f"{c:02d}" for c in range(12)]
    assert folder.targets == list(range(12))  # ImageFolder's labels are the generator's
    assert [Path(path).name for path, _ in folder.samples] == [f"{i:02d}.png" for i in range(12)]


@pytest.mark.parametrize(
    "names, expected",
    [
        (["a/b", "c"], "a/b"),
        (["..", "c"], ".."),
        (["", "c"], "''"),
        (["Cat", "cat"], "clashing"),
    ],
)
def test_class_names_that_cannot_be_folders_are_refused(names, expected):
    with pytest.raises(ValueError, match="directory name") as info:
        folder_names(names)
    assert expected in str(info.value)


def test_folder_names_pad_digits_only():
    assert folder_names(["0", "1", "10"]) == ["00", "01", "10"]
    assert folder_names(["a", "10"]) == ["a", "10"]


# -- npz ----------------------------------------------------------------------------------------


def test_npz_round_trips_through_np_load(gen, tmp_path):
    out = export_npz(
        gen, tmp_path / "synth.npz", class_counts={"right": 2, 2: 5}, seed=4, truncation=0.7, progress=False
    )
    with np.load(out, allow_pickle=False) as arrays:
        assert sorted(arrays.files) == ["class_names", "images", "labels"]
        images, labels, names = arrays["images"], arrays["labels"], arrays["class_names"]
    assert images.shape == (7, 8, 8, 1) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and np.bincount(labels, minlength=3).tolist() == [0, 2, 5]
    assert names.dtype.kind == "U" and names.tolist() == NAMES  # every class, also those with no images
    expected = items(gen, class_counts={"right": 2, 2: 5}, seed=4, truncation=0.7)
    assert np.array_equal(images, np.stack([expected[i][0] for i in range(7)]))
    assert np.array_equal(labels, expected.targets.numpy())


def test_npz_keeps_the_name_it_is_given(gen, tmp_path):
    out = export_npz(gen, tmp_path / "synth.bin", num_samples=3, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synth.bin"]
    assert np.load(out)["images"].shape == (3, 8, 8, 1)


# -- determinism --------------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_images(gen, tmp_path):
    trees = [
        export_imagefolder(gen, tmp_path / name, num_samples=6, seed=seed, progress=False)
        for name, seed in (("a", 1), ("b", 1), ("c", 2))
    ]
    a, b, c = map(tree_bytes, trees)
    assert a == b
    assert a.keys() == c.keys() and a != c
    arrays = [
        np.load(export_npz(gen, tmp_path / f"{name}.npz", num_samples=6, seed=seed, progress=False))
        for name, seed in (("a", 1), ("b", 1), ("c", 2))
    ]
    assert arrays[0]["images"].tobytes() == arrays[1]["images"].tobytes()
    assert arrays[0]["labels"].tobytes() == arrays[1]["labels"].tobytes()
    assert arrays[0]["images"].tobytes() != arrays[2]["images"].tobytes()


# -- overwriting and atomicity ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", EXPORTS)
def test_existing_output_is_refused_without_force_and_replaced_with_it(gen, tmp_path, fmt):
    out = tmp_path / "synth"
    previous = write_previous(out, fmt)
    with pytest.raises(FileExistsError, match="force=True"):
        EXPORTS[fmt](gen, out, num_samples=3, progress=False)
    assert content(out, fmt) == previous
    EXPORTS[fmt](gen, out, num_samples=3, force=True, progress=False)
    fresh = tmp_path / "fresh"
    EXPORTS[fmt](gen, fresh, num_samples=3, progress=False)
    assert content(out, fmt) == content(fresh, fmt)
    assert hidden_entries(tmp_path) == []


def test_force_replaces_a_file_with_a_tree(gen, tmp_path):
    out = tmp_path / "synth"
    out.write_text("not a tree")
    export_imagefolder(gen, out, num_samples=3, force=True, progress=False)
    assert sorted(p.name for p in out.iterdir()) == NAMES


class FailingDataset(SyntheticDataset):
    """Raises ``error`` when item ``fail_at`` is requested."""

    fail_at = 4
    error: BaseException = RuntimeError("disk on fire")

    def __getitem__(self, index):
        if index == self.fail_at:
            raise self.error
        return super().__getitem__(index)


@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), KeyboardInterrupt()], ids=["error", "ctrl-c"])
@pytest.mark.parametrize("existing", [False, True], ids=["new", "replacing"])
@pytest.mark.parametrize("fmt", EXPORTS)
def test_a_failure_midway_leaves_the_previous_output_and_no_temporaries(
    gen, tmp_path, monkeypatch, fmt, existing, error
):
    out = tmp_path / "synth"
    previous = write_previous(out, fmt) if existing else None
    monkeypatch.setattr(FailingDataset, "error", error)
    monkeypatch.setattr(export, "SyntheticDataset", FailingDataset)
    with pytest.raises(type(error)):
        EXPORTS[fmt](gen, out, num_samples=9, force=existing, progress=False)
    if existing:
        assert content(out, fmt) == previous
    else:
        assert not out.exists()
    assert hidden_entries(tmp_path) == []


def test_a_failing_png_writer_leaves_nothing(gen, tmp_path, monkeypatch):
    written = []

    def fail_on_third(image, path):
        if len(written) == 2:
            raise OSError("no space left on device")
        written.append(path)
        Image.fromarray(image[..., 0]).save(path)

    monkeypatch.setattr(export, "_save_png", fail_on_third)
    with pytest.raises(OSError, match="no space"):
        export_imagefolder(gen, tmp_path / "synth", num_samples=6, progress=False)
    assert len(written) == 2 and not any(p.exists() for p in written)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_npz_writer_leaves_the_previous_file(gen, tmp_path, monkeypatch):
    out = tmp_path / "synth.npz"
    out.write_bytes(b"old arrays")

    def half_written(file, **arrays):
        file.write(b"PK half")
        raise OSError("no space left on device")

    monkeypatch.setattr(export.np, "savez_compressed", half_written)
    with pytest.raises(OSError, match="no space"):
        export_npz(gen, out, num_samples=3, force=True, progress=False)
    assert out.read_bytes() == b"old arrays"
    assert hidden_entries(tmp_path) == []


def test_atomic_output_gives_new_outputs_ordinary_permissions(tmp_path):
    with atomic_output(tmp_path / "tree", directory=True) as tmp:
        (tmp / "a.txt").write_text("a")
    with atomic_output(tmp_path / "file", directory=False) as tmp:
        tmp.write_text("b")
    (tmp_path / "plain_dir").mkdir()
    (tmp_path / "plain_file").write_text("c")
    for made, plain in (("tree", "plain_dir"), ("file", "plain_file")):
        assert (tmp_path / made).stat().st_mode == (tmp_path / plain).stat().st_mode


# -- bad input: refused before anything is generated or written --------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(num_samples=0), ValueError, "num_samples"),
        (dict(class_counts={"bottom": 3}), ValueError, "bottom"),
        (dict(class_counts={0: -1}), ValueError, "class_counts"),
        (dict(class_counts={0: 1.5}), TypeError, "class_counts"),
        (dict(num_samples=4, class_counts={0: 3}), ValueError, "sum of class_counts"),
        (dict(num_samples=3, truncation=3.0), ValueError, "truncation"),
        (dict(num_samples=3, seed=-1), ValueError, "seed"),
    ],
    ids=["n-0", "unknown-class", "negative", "non-int", "n-mismatch", "truncation", "seed"],
)
@pytest.mark.parametrize("fmt", EXPORTS)
def test_bad_arguments_are_refused_before_anything_is_written(gen, tmp_path, fmt, kwargs, error, match):
    with pytest.raises(error, match=match):
        EXPORTS[fmt](gen, tmp_path / "synth", progress=False, **kwargs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("out", [".", ".."])
def test_out_must_name_something_to_create(gen, out):
    with pytest.raises(ValueError, match="name a file or directory"):
        export_npz(gen, out, num_samples=3, force=True, progress=False)


# -- grid ---------------------------------------------------------------------------------------


def test_grid_refuses_to_overwrite_without_force(gen, tmp_path):
    out = export_grid(gen, tmp_path / "grid.png", per_class=2)
    first = out.read_bytes()
    with pytest.raises(FileExistsError):
        export_grid(gen, out, per_class=3)
    assert out.read_bytes() == first
    export_grid(gen, out, per_class=3, force=True)
    assert out.read_bytes() != first
    with Image.open(out) as image:
        assert image.format == "PNG"
    assert hidden_entries(tmp_path) == []
