"""What an ImageFolder's images are: channels and size inferred from their headers."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from synthaug.data.folder import image_folder_dataset, inspect_image_folder, round_image_size


def write_folder(root, sizes, mode="RGB"):
    for c, name in enumerate(("a", "b")):
        (root / name).mkdir(parents=True)
        for i, size in enumerate(sizes):
            Image.new(mode, size, (100 + 50 * c,) * len(mode)).save(root / name / f"{i}.png")
    return root


def test_most_common_short_side_rounded_to_four(tmp_path):
    folder = write_folder(tmp_path / "f", [(70, 62), (70, 62), (30, 30)])
    found = inspect_image_folder(folder)
    assert (found.channels, found.image_size, found.common_side) == (3, 64, 62)
    assert found.common_shape == (70, 62) and found.examined == found.total == 6
    line = found.describe()
    assert "channels 3" in line and "image size 64" in line and "70x62" in line and "all 6 images" in line


def test_grayscale_folders_get_one_channel(tmp_path):
    found = inspect_image_folder(write_folder(tmp_path / "g", [(16, 16)], mode="L"))
    assert found.channels == 1 and found.image_size == 16


def test_inspection_reads_at_most_max_images(tmp_path):
    found = inspect_image_folder(write_folder(tmp_path / "f", [(16, 16)] * 5), max_images=3)
    assert found.examined == 3 and found.total == 10 and "3 of 10" in found.describe()


@pytest.mark.parametrize("side, size", [(3, 8), (29, 28), (30, 32), (62, 64), (1000, 256)])
def test_round_image_size(side, size):
    assert round_image_size(side) == size


def test_image_folder_dataset_items_are_fitted(tmp_path):
    folder = write_folder(tmp_path / "f", [(40, 20)])
    ds = image_folder_dataset(folder, 16, 1)
    image, label = ds[1]
    assert image.shape == (1, 16, 16) and label == 1
    assert np.isclose(float(image.mean()), 150 / 255, atol=0.01)


def test_not_a_directory(tmp_path):
    with pytest.raises(ValueError, match="ImageFolder directory"):
        inspect_image_folder(tmp_path / "missing")
