"""synthaug.albumentations: forms, serialisation through a bundle path, labels, randomness, errors."""

from __future__ import annotations

import json
import pickle

import albumentations as A
import numpy as np
import pytest
import torch
from conftest import build_dae, build_generator, make_pattern_data

import synthaug
import synthaug.albumentations as SA
from synthaug.transforms import gaussian_noise, vae_variation

SIZE = 8


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """Tiny untrained DAE and cVAE bundles, grayscale and RGB: ``{(kind, channels): path}``."""
    root = tmp_path_factory.mktemp("album")
    paths = {}
    for channels in (1, 3):
        for kind, model in (("dae", build_dae(channels)), ("cvae", build_generator("cvae", channels))):
            paths[kind, channels] = model.save_pretrained(root / f"{kind}{channels}")
    return paths


def build(name: str, bundles, channels: int = 1, **kwargs):
    if name == "Denoise":
        return SA.Denoise(bundles["dae", channels], **kwargs)
    return SA.VAEVariation(bundles["cvae", channels], **kwargs)


def call(pipeline, image, label=1):
    return pipeline(image=image, label=label)["image"]


def random_image(shape, dtype, seed=0) -> np.ndarray:
    values = 0.2 + 0.6 * np.random.default_rng(seed).random(shape)
    return (values * 255).round().astype(np.uint8) if dtype == np.uint8 else values.astype(dtype)


@pytest.fixture(params=["Denoise", "VAEVariation"])
def name(request) -> str:
    return request.param


@pytest.mark.parametrize(
    "shape, dtype",
    [
        ((SIZE, SIZE, 1), np.uint8),
        ((SIZE, SIZE), np.uint8),
        ((SIZE, SIZE, 3), np.uint8),
        ((SIZE, SIZE, 1), np.float32),
        ((SIZE, SIZE, 3), np.float32),
    ],
)
def test_output_has_the_input_shape_and_dtype_and_input_is_untouched(name, bundles, shape, dtype):
    image = random_image(shape, dtype)
    before = image.copy()
    channels = shape[2] if len(shape) == 3 else 1
    out = call(A.Compose([build(name, bundles, channels)], seed=0), image)
    assert out.shape == image.shape and out.dtype == image.dtype
    assert np.array_equal(image, before)
    assert not np.array_equal(out, image)
    if dtype == np.float32:
        assert 0.0 <= out.min() and out.max() <= 1.0


def test_the_images_target_goes_through_in_batches(name, bundles):
    stack = np.stack([random_image((SIZE, SIZE, 1), np.uint8, seed) for seed in range(5)])
    out = A.Compose([build(name, bundles, batch_size=2) if name == "Denoise" else build(name, bundles)], seed=0)(
        images=stack, label=[0, 1, 2, 0, 1]
    )["images"]
    assert out.shape == stack.shape and out.dtype == np.uint8
    if name == "Denoise":  # deterministic: the same as one image at a time
        one_by_one = np.stack([call(A.Compose([build(name, bundles)]), image) for image in stack])
        assert np.array_equal(out, one_by_one)


def test_to_dict_from_dict_round_trip_from_a_bundle_path(name, bundles):
    pipeline = A.Compose([build(name, bundles, p=0.75)], seed=3)
    document = json.loads(json.dumps(A.to_dict(pipeline)))  # plain JSON: the path, not the weights
    entry = document["transform"]["transforms"][0]
    assert entry["__class_fullname__"] == f"synthaug.albumentations.{name}" and entry["p"] == 0.75
    assert entry["dae" if name == "Denoise" else "cvae"] == str(bundles[("dae" if name == "Denoise" else "cvae"), 1])
    restored = A.from_dict(document)
    restored.set_random_seed(3)
    assert repr(restored) == repr(pipeline)
    images = [random_image((SIZE, SIZE, 1), np.uint8, seed) for seed in range(6)]
    assert all(np.array_equal(call(pipeline, x), call(restored, x)) for x in images)


def test_built_from_a_module_it_works_but_does_not_serialise():
    transform = SA.Denoise(build_dae(1))
    assert call(A.Compose([transform]), random_image((SIZE, SIZE, 1), np.uint8)).shape == (SIZE, SIZE, 1)
    with pytest.raises(
        NotImplementedError, match=r"built from a module cannot be serialised: build it from the bundle path"
    ):
        A.to_dict(A.Compose([transform]))


def test_pickling_carries_the_path_and_behaves_the_same(name, bundles):
    transform = build(name, bundles)
    data = pickle.dumps(A.Compose([transform], seed=0))
    weights = transform.model.state_dict()
    with_weights = pickle.dumps(A.Compose([type(transform)(transform.model)], seed=0))
    assert len(with_weights) - len(data) > 0.9 * sum(t.numel() * t.element_size() for t in weights.values())
    copy = pickle.loads(data)
    images = [random_image((SIZE, SIZE, 1), np.uint8, seed) for seed in range(3)]
    original = A.Compose([build(name, bundles)], seed=0)
    assert all(np.array_equal(call(original, x), call(copy, x)) for x in images)


def test_repr_shows_parameters(bundles):
    assert (
        repr(SA.Denoise(bundles["dae", 1], batch_size=16, p=0.5))
        == f"Denoise(dae={str(bundles['dae', 1])!r}, batch_size=16, gate=None, p=0.5)"
    )
    text = repr(SA.VAEVariation(build_generator("cvae"), strength=0.25, label_key="digit"))
    assert text.startswith("VAEVariation(cvae=ConditionalVAE(num_classes=3, ") and "\n" not in text
    assert "strength=0.25, label_key='digit', p=1.0)" in text


def test_compose_seed_repeats_and_different_seeds_differ(bundles):
    images = [random_image((SIZE, SIZE, 1), np.uint8, seed) for seed in range(4)]

    def outputs(seed):
        pipeline = A.Compose([build("VAEVariation", bundles, strength=1.0)], seed=seed)
        return np.stack([call(pipeline, x) for x in images + images])

    first = outputs(0)
    assert np.array_equal(first, outputs(0))
    assert not np.array_equal(first, outputs(1))
    assert not np.array_equal(first[:4], first[4:]), "the same image twice must vary differently"


def test_vae_variation_uses_the_label_and_strength(bundles):
    cvae_path = bundles["cvae", 1]
    image = random_image((SIZE, SIZE, 1), np.float32)
    pipeline = A.Compose([SA.VAEVariation(cvae_path, strength=0.0, label_key="digit")], strict=True)
    out = pipeline(image=image, digit=2)
    assert out["digit"] == 2
    import synthaug

    expected = vae_variation(
        synthaug.load(cvae_path), torch.from_numpy(image).permute(2, 0, 1)[None], torch.tensor([2]), strength=0.0
    )[0, 0].numpy()
    assert np.allclose(out["image"][:, :, 0], expected, atol=1e-6)
    other = pipeline(image=image, digit=0)["image"]
    assert not np.allclose(other, out["image"])


def test_denoise_lowers_the_error_on_noisy_images(trained_dae_run):
    clean = make_pattern_data(10, seed=2).images
    noisy = gaussian_noise(clean, sigma=0.2, generator=torch.Generator().manual_seed(0))
    to_hwc = lambda t: t.permute(1, 2, 0).numpy().copy()  # noqa: E731
    pipeline = A.Compose([SA.Denoise(trained_dae_run.out_dir)])
    denoised = np.stack([call(pipeline, to_hwc(x)) for x in noisy])
    clean_hwc = np.stack([to_hwc(x) for x in clean])
    noisy_hwc = np.stack([to_hwc(x) for x in noisy])
    assert ((denoised - clean_hwc) ** 2).mean() < 0.5 * ((noisy_hwc - clean_hwc) ** 2).mean()


def test_gate_passes_images_below_it_unchanged(trained_dae_run):
    clean = make_pattern_data(6, seed=2).images
    noisy = gaussian_noise(clean, sigma=0.3, generator=torch.Generator().manual_seed(0))
    stack = (torch.cat([clean, noisy]).permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    dae = synthaug.load(trained_dae_run.out_dir)
    scores = dae.score(torch.from_numpy(stack).permute(0, 3, 1, 2).float() / 255)
    gate = float(scores.sort().values[len(scores) // 2 - 1 : len(scores) // 2 + 1].mean())  # between two scores
    below = (scores <= gate).numpy()
    transform = SA.Denoise(trained_dae_run.out_dir, gate=gate, batch_size=5)
    out = transform(images=stack)["images"]
    assert np.array_equal(out[below], stack[below]) and not np.array_equal(out[~below], stack[~below])
    singles = [transform(image=image)["image"] for image in stack]
    assert all(np.array_equal(a, b) for a, b in zip(singles, out))
    assert A.from_dict(A.to_dict(A.Compose([transform]))).transforms[0].gate == gate


def test_p_zero_is_the_identity(name, bundles):
    image = random_image((SIZE, SIZE, 1), np.uint8)
    assert np.array_equal(call(A.Compose([build(name, bundles, p=0.0)]), image), image)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda b: SA.Denoise(b["dae", 1], p=1.5), ValueError, r"p must be a probability in \[0, 1\], got 1.5"),
        (lambda b: SA.Denoise(b["dae", 1], batch_size=0), ValueError, r"batch_size must be a positive int, got 0"),
        (
            lambda b: SA.Denoise(b["cvae", 1]),
            TypeError,
            r"dae: the bundle .* holds a ConditionalVAE, not a DenoisingAutoencoder",
        ),
        (lambda b: SA.Denoise(A.NoOp()), TypeError, r"dae must be a model or a bundle path, got the transform NoOp"),
        (
            lambda b: SA.VAEVariation(b["cvae", 1], strength=-0.5),
            ValueError,
            r"strength must be a finite number >= 0 .* got -0.5",
        ),
        (lambda b: SA.VAEVariation(b["cvae", 1], label_key=""), ValueError, r"label_key must be a non-empty string"),
        (lambda b: SA.VAEVariation(b["dae", 1]), TypeError, r"holds a DenoisingAutoencoder, not a ConditionalVAE"),
    ],
)
def test_bad_arguments_are_refused(bundles, make, error, message):
    with pytest.raises(error, match=message):
        make(bundles)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(image=random_image((SIZE, SIZE, 1), np.uint8), label=3),
            ValueError,
            r"label must be an int class index in \[0, 2\], got 3",
        ),
        (dict(image=random_image((SIZE, SIZE, 1), np.uint8)), ValueError, r"VAEVariation requires \['label'\]"),
        (
            dict(image=random_image((SIZE * 2, SIZE * 2, 1), np.uint8), label=0),
            ValueError,
            r"1x16x16, but the cVAE works on images of shape \(1, 8, 8\)",
        ),
        (
            dict(image=random_image((SIZE, SIZE, 3), np.uint8), label=0),
            ValueError,
            r"3x8x8, but the cVAE works on images of shape \(1, 8, 8\)",
        ),
        (dict(image=random_image((SIZE, SIZE, 4), np.uint8), label=0), ValueError, r"4 channels"),
        (dict(image=random_image((SIZE, SIZE, 1), np.float32) * 255, label=0), ValueError, r"expected \[0, 1\]"),
        (
            dict(images=np.stack([random_image((SIZE, SIZE, 1), np.uint8)] * 3), label=[0, 1]),
            ValueError,
            r"label must be one class index or one per image \(3\), got 2",
        ),
    ],
)
def test_bad_inputs_are_refused(bundles, kwargs, error, message):
    pipeline = A.Compose([build("VAEVariation", bundles)])
    with pytest.raises(error, match=message):
        pipeline(**kwargs)


class AlbumentationsDataset(torch.utils.data.Dataset):
    """The same image and label every item, through an albumentations pipeline."""

    def __init__(self, pipeline) -> None:
        self.pipeline = pipeline

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int):
        return torch.from_numpy(call(self.pipeline, random_image((SIZE, SIZE, 1), np.uint8), label=1))


def test_dataloader_workers_do_not_repeat_each_other(bundles):
    dataset = AlbumentationsDataset(A.Compose([build("VAEVariation", bundles, strength=2.0)], seed=0))
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=2, num_workers=2, generator=torch.Generator().manual_seed(0)
    )
    flat = torch.cat(list(loader)).flatten(1)
    assert all(not torch.equal(flat[i], flat[j]) for i in range(len(flat)) for j in range(i))
