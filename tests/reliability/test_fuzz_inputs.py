"""Fuzzing the model transforms with arbitrary image inputs.

Random types (tensor, ndarray, PIL image, other), layouts (2-D/3-D/4-D, 1/3/4 channels,
sides 4..12), dtypes (uint8, float32, float64, int64, bool), values (in [0, 1], out of
range, NaN, inf) and PIL modes (L, RGB, RGBA, I, F) go to SyntheticReplace,
BatchSyntheticMix, Denoise, VAEVariation and the albumentations Denoise/VAEVariation.

Every input must either work or raise ValueError/TypeError, and which one is decided by a
rule written out here (:func:`valid_item`): a supported form of the model's shape with
values in [0, 1] works, anything else is refused. A result keeps the input's form (type,
dtype, shape, PIL mode), is finite and in [0, 1] (floats), and the input is never modified.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
from conftest import NUM_CLASSES, build_dae, build_generator
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

import synthaug.albumentations as SA
from synthaug.transforms import BatchSyntheticMix, Denoise, SyntheticReplace, VAEVariation

SIZE = 8  # the tiny models' image side
# 60 examples per test keeps the file at a few seconds of CPU; SYNTHAUG_FUZZ_EXAMPLES=1000 searches deeper.
FUZZ = settings(
    max_examples=int(os.environ.get("SYNTHAUG_FUZZ_EXAMPLES", 60)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

DTYPES = ("uint8", "float32", "float64", "int64", "bool")
VALUES = ("unit", "out_of_range", "nan", "inf")
PIL_MODES = ("L", "RGB", "RGBA", "I", "F")


@dataclass
class Spec:
    """How an input was made, so the test can say whether it is valid."""

    kind: str  # "tensor", "numpy", "pil" or "other"
    shape: tuple[int, ...]  # the array's shape (PIL: (H, W))
    dtype: str = "uint8"
    values: str = "unit"
    mode: str = ""  # PIL mode

    def layout(self, batch: bool) -> tuple[int, int, int] | None:
        """``(C, H, W)`` of one image of this input (``batch``: of a stack), or None if no layout fits."""
        shape = self.shape[1:] if batch else self.shape
        if self.kind == "pil":
            return {"L": (1, *shape), "RGB": (3, *shape)}.get(self.mode)
        if len(shape) == 2:
            return (1, *shape)
        if len(shape) == 3:
            return shape if self.kind == "tensor" else (shape[2], shape[0], shape[1])
        return None


@st.composite
def image_inputs(
    draw, channels: int, kinds=("tensor", "numpy", "pil", "other"), ranks=(2, 3, 3, 4)
) -> tuple[Any, Spec]:
    """An image input and its :class:`Spec`. Two in three are drawn near the form of a model for
    ``channels``-channel 8x8 images (uint8 or float in [0, 1]) so that valid inputs are common;
    the rest come from everything."""
    kind = draw(st.sampled_from(kinds))
    if kind == "other":
        return draw(st.sampled_from([None, 0.5, "image.png", [[0.5] * SIZE] * SIZE])), Spec("other", ())
    near = draw(st.sampled_from((True, True, False)))
    side = st.just(SIZE) if near else st.one_of(st.just(SIZE), st.integers(4, 12))
    height, width = draw(side), draw(side)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    if kind == "pil":
        mode = draw(st.sampled_from(("L" if channels == 1 else "RGB",) if near else PIL_MODES))
        channels = {"L": 1, "RGB": 3, "RGBA": 4, "I": 1, "F": 1}[mode]
        pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
        if mode in ("L", "RGB", "RGBA"):
            image = Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode=mode)
        else:
            image = Image.fromarray(pixels[..., 0].astype(np.int32 if mode == "I" else np.float32), mode=mode)
        return image, Spec("pil", (height, width), mode=mode)
    rank = draw(st.sampled_from(ranks))
    channels = channels if near else draw(st.sampled_from((1, 3, 4)))
    batch = draw(st.integers(1, 3))
    if kind == "tensor":
        shape = {2: (height, width), 3: (channels, height, width), 4: (batch, channels, height, width)}[rank]
    else:
        shape = {2: (height, width), 3: (height, width, channels), 4: (batch, height, width, channels)}[rank]
    dtype = draw(st.sampled_from(DTYPES[:3] if near else DTYPES))
    values = draw(st.sampled_from(VALUES)) if dtype.startswith("float") and not near else "unit"
    array = rng.random(shape)
    if dtype == "uint8":
        array = (array * 255).round()
    elif dtype == "int64":
        array = (array * 255).round() - 20
    elif dtype == "bool":
        array = array > 0.5
    elif values != "unit":
        spot = tuple(int(rng.integers(0, n)) for n in shape)
        array[spot] = {"out_of_range": draw(st.sampled_from([-2.0, 1.5, 3.0, 255.0])), "nan": np.nan, "inf": np.inf}[
            values
        ]
    array = array.astype(dtype)
    image = torch.from_numpy(array) if kind == "tensor" else array
    return image, Spec(kind, shape, dtype, values)


def valid_item(spec: Spec, model_shape: tuple[int, int, int], batch: bool = False) -> bool:
    """Whether a transform on models of ``model_shape`` must accept this input (one item, or a batch)."""
    if spec.kind == "other" or (batch and len(spec.shape) != 4) or (not batch and len(spec.shape) == 4):
        return False
    if spec.kind == "pil":
        return spec.layout(False) == model_shape
    return spec.dtype in ("uint8", "float32", "float64") and spec.values == "unit" and spec.layout(batch) == model_shape


def label_values() -> st.SearchStrategy:
    """Class labels: valid ones (int, numpy int, 0-d tensor) half the time, then anything."""
    good, ints = st.integers(0, NUM_CLASSES - 1), st.integers(-1, NUM_CLASSES + 1)
    return st.one_of(
        good,
        good.map(np.int64),
        good.map(torch.tensor),
        ints,
        ints.map(torch.tensor),
        st.sampled_from([1.0, None, "0", True, torch.tensor([0, 1]), torch.tensor(1.0)]),
    )


def valid_label(label: Any) -> bool:
    if isinstance(label, torch.Tensor):
        if label.numel() != 1 or label.is_floating_point() or label.dtype == torch.bool:
            return False
        label = label.item()
    return isinstance(label, (int, np.integer)) and not isinstance(label, bool) and 0 <= label < NUM_CLASSES


def snapshot(image: Any) -> Any:
    return image.copy() if isinstance(image, Image.Image) else copy.deepcopy(image)


def same_input(before: Any, after: Any) -> bool:
    if isinstance(before, torch.Tensor):
        return (
            before.dtype == after.dtype
            and before.shape == after.shape
            and bool(
                (
                    (before == after) | (before.isnan() & after.isnan())
                    if before.is_floating_point()
                    else before == after
                ).all()
            )
        )
    if isinstance(before, np.ndarray):
        return np.array_equal(before, after, equal_nan=before.dtype.kind == "f")
    if isinstance(before, Image.Image):
        return before.tobytes() == after.tobytes()
    return True


def assert_same_form(out: Any, image: Any) -> None:
    """``out`` has ``image``'s type, dtype, shape (PIL: mode and size) and device; float values finite in [0, 1]."""
    assert type(out) is type(image)
    if isinstance(image, Image.Image):
        assert (out.mode, out.size) == (image.mode, image.size)
        return
    assert out.shape == image.shape and out.dtype == image.dtype
    values = torch.as_tensor(out)
    if values.is_floating_point():
        assert torch.isfinite(values).all() and values.min() >= 0 and values.max() <= 1
    if isinstance(image, torch.Tensor):
        assert out.device == image.device


def check(run, image: Any, valid: bool) -> Any:
    """Call ``run()``; it must work when ``valid`` and raise ValueError/TypeError otherwise; never touch ``image``."""
    event(
        "valid input (must work)" if valid else "invalid input (must be refused)"
    )  # shown by --hypothesis-show-statistics
    before = snapshot(image)
    try:
        out = run()
    except (ValueError, TypeError):
        assert not valid, "a valid input was refused"
        assert same_input(before, image)
        return None
    assert valid, "an invalid input was accepted"
    assert same_input(before, image)
    return out


# -- the models ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models():
    """A generator, a cVAE and a DAE for 1 and for 3 channels (8x8, 3 classes)."""
    return {
        c: {
            "gan": build_generator("cgan", channels=c),
            "cvae": build_generator("cvae", channels=c),
            "dae": build_dae(channels=c),
        }
        for c in (1, 3)
    }


channels = st.sampled_from((1, 3))


# -- torch-side transforms --------------------------------------------------------------------


@FUZZ
@given(data=st.data(), label=label_values(), c=channels, p=st.sampled_from((0.0, 1.0)))
def test_synthetic_replace(models, data, label, c, p):
    image, spec = data.draw(image_inputs(c), label="image")
    replace = SyntheticReplace(models[c]["gan"], p=p, seed=0)
    valid = valid_item(spec, (c, SIZE, SIZE)) and valid_label(label)
    out = check(lambda: replace(image, label), image, valid)
    if out is not None:
        assert out[1] is label
        assert_same_form(out[0], image)


@FUZZ
@given(data=st.data(), c=channels)
def test_denoise(models, data, c):
    image, spec = data.draw(image_inputs(c), label="image")
    denoise = Denoise(models[c]["dae"], batch_size=2)
    batch = isinstance(image, torch.Tensor) and image.dim() == 4
    valid = valid_item(spec, (c, SIZE, SIZE), batch=batch)
    out = check(lambda: denoise(image), image, valid)
    if out is not None:
        assert_same_form(out, image)


@FUZZ
@given(
    data=st.data(),
    label=label_values(),
    batch_labels=st.integers(-1, NUM_CLASSES),
    c=channels,
    p=st.sampled_from((0.0, 1.0)),
)
def test_vae_variation(models, data, label, batch_labels, c, p):
    image, spec = data.draw(image_inputs(c), label="image")
    vary = VAEVariation(models[c]["cvae"], strength=0.5, p=p, seed=0)
    batch = isinstance(image, torch.Tensor) and image.dim() == 4
    if batch:  # a batch takes one label per image; batch_labels=-1 gives one too few
        n = len(image) + (batch_labels < 0)
        label = torch.full((n,), max(batch_labels, 0) % NUM_CLASSES, dtype=torch.long)
        valid = valid_item(spec, (c, SIZE, SIZE), batch=True) and n == len(image)
    else:
        valid = valid_item(spec, (c, SIZE, SIZE)) and valid_label(label)
    out = check(lambda: vary(image, label), image, valid)
    if out is not None:
        assert_same_form(out[0], image)


@FUZZ
@given(
    data=st.data(),
    good_labels=st.booleans(),
    label_value=st.integers(-1, NUM_CLASSES),
    label_dtype=st.sampled_from((torch.int64, torch.float32)),
    extra=st.integers(-1, 1),
    c=channels,
    p=st.sampled_from((0.0, 0.5, 1.0)),
)
def test_batch_synthetic_mix(models, data, good_labels, label_value, label_dtype, extra, c, p):
    kinds = ("tensor", "tensor", "tensor", "numpy", "other")
    images, spec = data.draw(image_inputs(c, kinds=kinds, ranks=(4, 4, 3)), label="images")
    if good_labels:  # half the time one valid label per image, so that valid batches are common
        label_value, label_dtype, extra = label_value % NUM_CLASSES, torch.int64, 0
    n = len(images) + extra if isinstance(images, (torch.Tensor, np.ndarray)) and images.ndim else 1
    labels = torch.full((max(n, 0),), label_value, dtype=label_dtype)
    mix = BatchSyntheticMix(models[c]["gan"], p=p, seed=0)
    valid = (
        spec.kind == "tensor"
        and valid_item(spec, (c, SIZE, SIZE), batch=True)
        and extra == 0
        and label_dtype == torch.int64
        and 0 <= label_value < NUM_CLASSES
    )
    out = check(lambda: mix(images, labels), images, valid)
    if out is not None:
        assert out[1] is labels
        assert_same_form(out[0], images)


# -- albumentations -----------------------------------------------------------------------------


def albumentations_valid(spec: Spec, c: int) -> bool:
    """``image=``: one numpy [H, W] / [H, W, C] array; ``images=``: a stack [N, H, W(, C)]."""
    if spec.kind != "numpy" or spec.dtype not in ("uint8", "float32", "float64") or spec.values != "unit":
        return False
    if len(spec.shape) == 4:
        return spec.layout(True) == (c, SIZE, SIZE)
    return spec.layout(False) == (c, SIZE, SIZE)


ALBUMENTATIONS_KINDS = ("numpy", "numpy", "numpy", "tensor", "pil", "other")


def target(image: Any) -> dict[str, Any]:
    """The albumentations target for the input: a 4-D array is an ``images`` stack."""
    return {"images": image} if isinstance(image, np.ndarray) and image.ndim == 4 else {"image": image}


@FUZZ
@given(data=st.data(), c=channels)
def test_albumentations_denoise(models, data, c):
    image, spec = data.draw(image_inputs(c, kinds=ALBUMENTATIONS_KINDS), label="image")
    inputs = target(image)
    out = check(lambda: SA.Denoise(models[c]["dae"], batch_size=2)(**inputs), image, albumentations_valid(spec, c))
    if out is not None:
        assert_same_form(out[next(iter(inputs))], image)


@FUZZ
@given(data=st.data(), label=label_values(), c=channels)
def test_albumentations_vae_variation(models, data, label, c):
    image, spec = data.draw(image_inputs(c, kinds=ALBUMENTATIONS_KINDS), label="image")
    inputs = target(image)
    if "images" in inputs and isinstance(label, torch.Tensor) and label.numel() > 1:
        label = label[0]  # one label for the whole stack: also allowed
    valid = albumentations_valid(spec, c) and valid_label(label)
    out = check(lambda: SA.VAEVariation(models[c]["cvae"], strength=0.5)(**inputs, label=label), image, valid)
    if out is not None:
        assert_same_form(out[next(iter(inputs))], image)
