"""Fitting images to a model's square shape: aspect ratio kept, channels converted, every image form."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from synthaug.data.resize import FitImage, convert_channels, resize_and_crop

RED, GREEN = (255, 0, 0), (0, 255, 0)


def banded_image(width: int = 40, height: int = 20) -> Image.Image:
    """Outer quarters red, centre half green: a squash keeps the red, a centre crop does not."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, :] = GREEN
    pixels[:, : width // 4] = RED
    pixels[:, width - width // 4 :] = RED
    return Image.fromarray(pixels)


def test_a_wide_image_keeps_its_centre_not_a_squashed_whole():
    out = FitImage(16, 3)(banded_image())
    assert out.shape == (3, 16, 16)
    # 40x20 -> 32x16, centre 16 columns = original columns 10..30: green (the filter blurs the edge a little).
    assert float(out[0].mean()) < 0.02 and float(out[0].max()) < 0.1 and float(out[1].min()) > 0.9
    squashed = torch.nn.functional.interpolate(
        FitImage(20, 3)(banded_image().resize((20, 20))).unsqueeze(0), size=(16, 16)
    )[0]
    assert float(squashed[0].max()) > 0.9  # what a stretch would have kept


def test_a_tall_image_is_cropped_top_and_bottom():
    tall = banded_image().transpose(Image.Transpose.ROTATE_90)  # 20 wide, 40 high, bands top/bottom
    out = FitImage(16, 3)(tall)
    assert float(out[0].mean()) < 0.02 and float(out[0].max()) < 0.1 and float(out[1].min()) > 0.9


def test_resize_and_crop_shapes_and_range():
    images = torch.rand(2, 3, 30, 50)
    out = resize_and_crop(images, 16)
    assert out.shape == (2, 3, 16, 16) and out.min() >= 0 and out.max() <= 1
    same = torch.rand(1, 8, 8)
    assert resize_and_crop(same, 8) is same
    with pytest.raises(ValueError, match="size"):
        resize_and_crop(images, 0)


def test_channels_convert_both_ways():
    gray = torch.rand(1, 4, 4)
    assert torch.equal(convert_channels(gray, 3), gray.expand(3, 4, 4))
    rgb = torch.zeros(3, 2, 2)
    rgb[1] = 1.0
    assert torch.allclose(convert_channels(rgb, 1), torch.full((1, 2, 2), 0.587))
    with pytest.raises(ValueError, match="channels"):
        convert_channels(gray, 2)


@pytest.mark.parametrize(
    "image",
    [
        Image.new("RGB", (12, 10), (255, 0, 0)),
        Image.new("RGBA", (12, 10), (255, 0, 0, 255)),
        Image.new("P", (12, 10)),
        Image.new("L", (12, 10), 255),
        np.full((10, 12, 3), 255, dtype=np.uint8),
        np.ones((10, 12), dtype=np.float32),
        torch.ones(3, 10, 12),
        torch.full((10, 12), 255, dtype=torch.uint8),
    ],
    ids=["pil-rgb", "pil-rgba", "pil-p", "pil-l", "numpy-hwc", "numpy-hw-float", "tensor-chw", "tensor-hw-uint8"],
)
@pytest.mark.parametrize("channels", [1, 3])
def test_every_image_form_fits(image, channels):
    out = FitImage(8, channels)(image)
    assert out.shape == (channels, 8, 8) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1


def test_normalised_images_are_refused():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        FitImage(8, 3)(torch.randn(3, 8, 8) * 3)


def test_fit_image_pickles_and_checks_its_arguments():
    fit = pickle.loads(pickle.dumps(FitImage(8, 1)))
    assert repr(fit) == "FitImage(size=8, channels=1)"
    with pytest.raises(ValueError, match="channels"):
        FitImage(8, 2)
    with pytest.raises(ValueError, match="size"):
        FitImage(-1, 3)
