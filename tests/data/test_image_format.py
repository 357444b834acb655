"""detect_format / to_float_chw / from_float_chw: every supported item form round-trips."""

import numpy as np
import pytest
import torch
from PIL import Image

from synthaug.data.image_format import detect_format, from_float_chw, quantize, to_float_chw

RNG = np.random.default_rng(0)
GRAY = RNG.integers(0, 256, (5, 7), dtype=np.uint8)
RGB = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)

FORMS = {
    "pil L": Image.fromarray(GRAY, mode="L"),
    "pil RGB": Image.fromarray(RGB, mode="RGB"),
    "tensor float CHW": torch.from_numpy(GRAY).float().div(255).unsqueeze(0),
    "tensor float64 RGB": torch.from_numpy(RGB).permute(2, 0, 1).double().div(255),
    "tensor uint8 CHW": torch.from_numpy(RGB).permute(2, 0, 1).contiguous(),
    "tensor float HW": torch.from_numpy(GRAY).float().div(255),
    "numpy uint8 HWC": RGB.copy(),
    "numpy uint8 HW": GRAY.copy(),
    "numpy float32 HWC1": (GRAY[:, :, None] / 255).astype(np.float32),
}


def _equal(a, b) -> bool:
    if isinstance(a, Image.Image):
        return isinstance(b, Image.Image) and a.mode == b.mode and np.array_equal(np.asarray(a), np.asarray(b))
    if isinstance(a, torch.Tensor):
        return (
            isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and torch.allclose(a.double(), b.double(), atol=1e-6)
        )
    return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and np.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("name", FORMS)
def test_round_trip_keeps_form_and_values(name):
    item = FORMS[name]
    fmt = detect_format(item)
    chw = to_float_chw(item)
    assert chw.dtype == torch.float32 and chw.shape == fmt.shape
    assert 0 <= chw.min() and chw.max() <= 1
    assert _equal(item, from_float_chw(chw, fmt))
    assert _equal(item, from_float_chw(quantize(chw), fmt)) or fmt.is_float


def test_conversion_never_aliases_the_input():
    item = FORMS["tensor float CHW"]
    before = item.clone()
    chw = to_float_chw(item)
    chw.zero_()
    assert torch.equal(item, before)
    out = from_float_chw(before, detect_format(before))
    out.zero_()
    assert torch.equal(item, before)


@pytest.mark.parametrize(
    "bad, error, words",
    [
        (Image.new("RGBA", (4, 4)), ValueError, "RGBA"),
        (torch.zeros(4, 5, 5), ValueError, "4 channels"),
        (torch.zeros(1, 1, 5, 5), ValueError, "shape"),
        (torch.zeros(1, 5, 5, dtype=torch.int32), ValueError, "dtype"),
        (torch.full((1, 5, 5), -0.5), ValueError, "Normalize"),
        (np.zeros((5, 5, 2), np.uint8), ValueError, "2 channels"),
        ([[0, 1]], TypeError, "list"),
    ],
)
def test_unsupported_items_are_named(bad, error, words):
    with pytest.raises(error, match=words):
        detect_format(bad)


def test_shape_mismatch_is_refused():
    fmt = detect_format(FORMS["pil RGB"])
    with pytest.raises(ValueError, match="expected shape"):
        from_float_chw(torch.zeros(1, 5, 7), fmt)
