"""Real data adapters: embedded digits, ImageFolder trees, Fashion-MNIST from local files only."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

import synthaug.data.real as real
from synthaug.data.real import (
    FASHION_MNIST_FILES,
    LabelledImages,
    load_digits_data,
    load_fashion_mnist_data,
    load_image_folder_data,
    load_real_data,
    prepare_fashion_mnist,
)


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX format MNIST uses: magic 0x000008NN (ubyte, NN dims), big-endian int32 sizes, data."""
    assert array.dtype == np.uint8
    header = struct.pack(">I", 0x00000800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_fake_debian_fashion_mnist(folder: Path, n_train: int = 6, n_test: int = 4) -> dict[str, np.ndarray]:
    """Tiny gzipped IDX files named as the Debian package installs them; returns the arrays."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % 10).astype(np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        with gzip.open(folder / f"{name}.gz", "wb") as f:
            f.write(idx_bytes(array))
    return arrays


# -- digits -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return load_digits_data()


def test_digits_default_is_16x16_in_0_1(digits):
    for part in (digits.train, digits.test):
        assert isinstance(part, LabelledImages)
        assert part.images.shape[1:] == (1, 16, 16)
        assert part.images.dtype == torch.float32 and part.labels.dtype == torch.int64
        assert float(part.images.min()) >= 0 and float(part.images.max()) <= 1
    assert digits.image_shape == (1, 16, 16)
    assert digits.name == "digits"
    assert "digits" in repr(digits)


def test_digits_split_is_stratified(digits):
    assert len(digits.train) + len(digits.test) == 1797
    assert abs(len(digits.test) / 1797 - 0.25) < 0.01
    assert set(digits.train.labels.tolist()) == set(range(10))
    assert set(digits.test.labels.tolist()) == set(range(10))
    train_share = torch.bincount(digits.train.labels, minlength=10) / len(digits.train)
    test_share = torch.bincount(digits.test.labels, minlength=10) / len(digits.test)
    assert (train_share - test_share).abs().max() < 0.02


def test_digits_class_names(digits):
    assert digits.class_names == [str(d) for d in range(10)]
    assert digits.num_classes == 10


def test_digits_at_8x8_keeps_the_original_pixels():
    from sklearn.datasets import load_digits

    data = load_digits_data(image_size=8)
    assert data.image_shape == (1, 8, 8)
    original = torch.from_numpy(load_digits().images.astype(np.float32) / 16.0)
    ours = torch.cat([data.train.images, data.test.images])[:, 0]
    # Same multiset of images (the split reorders them): compare sorted flattened rows.
    key = lambda t: sorted(map(tuple, t.flatten(1).tolist()))  # noqa: E731
    assert key(ours) == key(original)
    assert torch.equal(ours * 16, (ours * 16).round())  # no resampling: still multiples of 1/16


def test_digits_split_depends_on_seed_only():
    a, b, c = (
        load_digits_data(image_size=8, seed=0),
        load_digits_data(image_size=8, seed=0),
        load_digits_data(image_size=8, seed=1),
    )
    assert torch.equal(a.test.images, b.test.images)
    assert not torch.equal(a.test.images, c.test.images)


def test_labelled_images_dataset_items(digits):
    ds = digits.train.as_dataset()
    image, label = ds[3]
    assert len(ds) == len(digits.train)
    assert isinstance(label, int) and label == int(digits.train.labels[3])
    assert torch.equal(image, digits.train.images[3])


def test_labelled_images_checks_its_shape():
    with pytest.raises(ValueError, match="N, C, H, W"):
        LabelledImages(torch.rand(4, 8, 8), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError):
        LabelledImages(torch.rand(4, 1, 8, 8), torch.zeros(3, dtype=torch.long))


# -- ImageFolder --------------------------------------------------------------------------------


@pytest.mark.parametrize("channels, size", [(1, 8), (3, 8), (3, 16)])
def test_image_folder(image_folder, channels, size):
    data = load_image_folder_data(image_folder, image_size=size, channels=channels, test_fraction=0.25)
    assert data.image_shape == (channels, size, size)
    assert data.class_names == ["cat", "dog"]
    assert data.name == "folder"
    assert len(data.train) + len(data.test) == 12
    assert len(data.test) == 3
    for part in (data.train, data.test):
        assert float(part.images.min()) >= 0 and float(part.images.max()) <= 1
        assert part.images.dtype == torch.float32
    assert set(data.train.labels.tolist()) == {0, 1}


def test_image_folder_colours_survive(image_folder):
    data = load_image_folder_data(image_folder, image_size=8, channels=3)
    images = torch.cat([data.train.images, data.test.images])
    labels = torch.cat([data.train.labels, data.test.labels])
    # "cat" images are red, "dog" images are green (see conftest.write_image_folder).
    assert images[labels == 0, 0].mean() > images[labels == 0, 1].mean() + 0.3
    assert images[labels == 1, 1].mean() > images[labels == 1, 0].mean() + 0.3


def test_image_folder_bad_channels(image_folder):
    with pytest.raises(ValueError, match="channels"):
        load_image_folder_data(image_folder, image_size=8, channels=2)


def test_load_real_data_dispatch(image_folder):
    folder = load_real_data(str(image_folder), image_size=8, channels=1)
    assert folder.image_shape == (1, 8, 8)
    assert load_real_data("digits", image_size=8).image_shape == (1, 8, 8)


def test_load_real_data_missing_path(tmp_path):
    with pytest.raises(ValueError, match="nowhere"):
        load_real_data(str(tmp_path / "nowhere"))


# -- Fashion-MNIST from local files -------------------------------------------------------------


@pytest.mark.skipif(not real.DEBIAN_FASHION_MNIST.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_prepare_fashion_mnist_from_the_installed_debian_package(tmp_path):
    root = prepare_fashion_mnist(tmp_path)
    raw = root / "FashionMNIST" / "raw"
    sizes = {name: (raw / name).stat().st_size for name in FASHION_MNIST_FILES}
    assert sizes == {
        "train-images-idx3-ubyte": 16 + 60000 * 28 * 28,
        "train-labels-idx1-ubyte": 8 + 60000,
        "t10k-images-idx3-ubyte": 16 + 10000 * 28 * 28,
        "t10k-labels-idx1-ubyte": 8 + 10000,
    }
    assert (raw / "train-images-idx3-ubyte").read_bytes()[:4] == bytes.fromhex("00000803")
    assert not [p.name for p in raw.iterdir() if p.name.startswith(".")]


def test_prepare_fashion_mnist_without_any_files_says_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setattr(real, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian-package")
    with pytest.raises(FileNotFoundError) as info:
        prepare_fashion_mnist(tmp_path / "root")
    message = str(info.value)
    assert "dataset-fashion-mnist" in message
    assert "download=True" in message
    assert not (tmp_path / "root" / "FashionMNIST" / "raw" / FASHION_MNIST_FILES[0]).exists()


def test_prepare_fashion_mnist_decompresses_the_debian_files(tmp_path, monkeypatch):
    debian = tmp_path / "debian"
    arrays = write_fake_debian_fashion_mnist(debian)
    monkeypatch.setattr(real, "DEBIAN_FASHION_MNIST", debian)
    root = prepare_fashion_mnist(tmp_path / "root")
    raw = root / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(FASHION_MNIST_FILES)
    for name, array in arrays.items():
        assert (raw / name).read_bytes() == idx_bytes(array)
    # Once there, the files are used as they are, with no Debian package needed.
    monkeypatch.setattr(real, "DEBIAN_FASHION_MNIST", tmp_path / "gone")
    assert prepare_fashion_mnist(tmp_path / "root") == root


def test_prepare_fashion_mnist_fills_in_only_missing_files(tmp_path, monkeypatch):
    debian = tmp_path / "debian"
    write_fake_debian_fashion_mnist(debian)
    monkeypatch.setattr(real, "DEBIAN_FASHION_MNIST", debian)
    raw = tmp_path / "root" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"user's own file")
    prepare_fashion_mnist(tmp_path / "root")
    assert (raw / "t10k-labels-idx1-ubyte").read_bytes() == b"user's own file"
    assert all((raw / name).is_file() for name in FASHION_MNIST_FILES)


def test_load_fashion_mnist_data_reads_the_idx_files(tmp_path, monkeypatch):
    debian = tmp_path / "debian"
    arrays = write_fake_debian_fashion_mnist(debian, n_train=6, n_test=4)
    monkeypatch.setattr(real, "DEBIAN_FASHION_MNIST", debian)
    data = load_fashion_mnist_data(tmp_path / "root", image_size=28)
    assert (len(data.train), len(data.test)) == (6, 4)
    assert data.image_shape == (1, 28, 28)
    assert data.num_classes == 10 and data.class_names[0].startswith("T-shirt")
    expected = torch.from_numpy(arrays["train-images-idx3-ubyte"]).float() / 255
    assert torch.allclose(data.train.images[:, 0], expected)
    assert data.train.labels.tolist() == arrays["train-labels-idx1-ubyte"].tolist()
    small = load_fashion_mnist_data(tmp_path / "root", image_size=8)
    assert small.image_shape == (1, 8, 8)
    assert float(small.train.images.min()) >= 0 and float(small.train.images.max()) <= 1
