"""Generative transforms: one conformance check over every transform and item form, then each one's meaning."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from conftest import NUM_CLASSES, build_dae, build_generator, make_pattern_data
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

import synthaug
from synthaug.data.image_format import detect_format
from synthaug.transforms import (
    BatchSyntheticMix,
    Denoise,
    SyntheticReplace,
    VAEVariation,
    gaussian_noise,
    vae_variation,
)

SIZE = 8


class LabelPainter:
    """A protocol-only generator: every pixel (label + 1) / 4, plus noise in [0, 0.1) from ``generator``.

    Makes replacements easy to see (inputs are never that flat) and shows which label was used.
    """

    num_classes = NUM_CLASSES
    class_names = None

    def __init__(self, channels: int = 1) -> None:
        self.image_shape = (channels, SIZE, SIZE)
        self.calls = 0

    def sample(self, labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        self.calls += 1
        noise = 0.1 * torch.rand(len(labels), *self.image_shape, generator=generator)
        return ((labels.float().cpu() + 1) / 4).view(-1, 1, 1, 1) + noise


# -- item forms -------------------------------------------------------------------------------


def random_chw(channels: int, seed: int = 0) -> torch.Tensor:
    """A float [C, H, W] image in [0.2, 0.8]: no model output is ever equal to it."""
    return 0.2 + 0.6 * torch.rand(channels, SIZE, SIZE, generator=torch.Generator().manual_seed(seed))


def make_item(form: str, seed: int = 0):
    chw3, chw1 = random_chw(3, seed), random_chw(1, seed)
    u8 = lambda t: t.mul(255).round().to(torch.uint8)  # noqa: E731
    return {
        "pil-L": lambda: Image.fromarray(u8(chw1)[0].numpy(), mode="L"),
        "pil-RGB": lambda: Image.fromarray(u8(chw3).permute(1, 2, 0).numpy(), mode="RGB"),
        "tensor-float32": lambda: chw3,
        "tensor-uint8": lambda: u8(chw1),
        "tensor-float64-hw": lambda: chw1[0].double(),
        "numpy-uint8-hwc": lambda: u8(chw3).permute(1, 2, 0).numpy().copy(),
        "numpy-float32-hwc": lambda: chw1.permute(1, 2, 0).numpy().copy(),
        "numpy-uint8-hw": lambda: u8(chw1)[0].numpy().copy(),
    }[form]()


FORMS = [
    "pil-L",
    "pil-RGB",
    "tensor-float32",
    "tensor-uint8",
    "tensor-float64-hw",
    "numpy-uint8-hwc",
    "numpy-float32-hwc",
    "numpy-uint8-hw",
]


def channels_of(image) -> int:
    return detect_format(image, check_range=False).channels


def as_array(image) -> np.ndarray:
    if isinstance(image, Image.Image):
        return np.asarray(image).copy()
    return image.detach().cpu().numpy().copy() if isinstance(image, torch.Tensor) else image.copy()


def assert_same_form(out, image) -> None:
    assert type(out) is type(image)
    assert detect_format(out, check_range=False) == detect_format(image, check_range=False)
    if isinstance(image, Image.Image):
        assert out.mode == image.mode


# -- the transforms under test, built for a channel count ------------------------------------

MODELS: dict = {}


def model(kind: str, channels: int):
    key = (kind, channels)
    if key not in MODELS:
        MODELS[key] = build_dae(channels) if kind == "dae" else build_generator(kind, channels)
    return MODELS[key]


BUILDERS = {
    "SyntheticReplace": lambda c, **kw: SyntheticReplace(model("cgan", c), **{"p": 1.0, "seed": 0, **kw}),
    "VAEVariation": lambda c, **kw: VAEVariation(model("cvae", c), **{"p": 1.0, "seed": 0, **kw}),
    "Denoise": lambda c, **kw: Denoise(model("dae", c), **kw),
}
PAIR_TRANSFORMS = ["SyntheticReplace", "VAEVariation"]
RANDOM_TRANSFORMS = PAIR_TRANSFORMS  # Denoise is deterministic


def run(transform, image, label: int = 1):
    """The transformed image; pair transforms must hand the label back unchanged."""
    if isinstance(transform, Denoise):
        return transform(image)
    out, out_label = transform(image, label)
    assert out_label is label
    return out


@pytest.fixture(params=list(BUILDERS))
def name(request) -> str:
    return request.param


# -- conformance: every transform, every item form ------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_output_has_the_input_form_and_input_is_untouched(name, form):
    image = make_item(form)
    before = as_array(image)
    transform = BUILDERS[name](channels_of(image))
    out = run(transform, image)
    assert_same_form(out, image)
    assert np.array_equal(as_array(image), before), "the input was modified in place"
    assert not np.array_equal(as_array(out), before), "p=1 must change the image"


def test_batch_tensor_keeps_dtype_and_is_untouched(name):
    transform = BUILDERS[name](1)
    labels = torch.tensor([0, 1, 2, 0])
    for images in (
        torch.rand(4, 1, SIZE, SIZE),
        torch.rand(4, 1, SIZE, SIZE).double(),
        torch.randint(0, 256, (4, 1, SIZE, SIZE), dtype=torch.uint8),
    ):
        before = images.clone()
        out = transform(images) if name == "Denoise" else transform(images, labels)[0]
        assert out.shape == images.shape and out.dtype == images.dtype and out.device == images.device
        assert torch.equal(images, before)


def test_repr_shows_parameters(name):
    text = repr(BUILDERS[name](1, **({} if name == "Denoise" else {"p": 0.25})))
    assert text.startswith(f"{name}(")
    assert "image_size=8" in text  # the model, in one line
    assert "\n" not in text
    expected = {
        "SyntheticReplace": ["p=0.25", "seed=0", "truncation=1.0"],
        "VAEVariation": ["p=0.25", "seed=0", "strength=0.5"],
        "Denoise": ["batch_size=256"],
    }[name]
    for part in expected:
        assert part in text


def test_pickle_round_trip_behaves_the_same(name):
    transform = BUILDERS[name](1)
    copy = pickle.loads(pickle.dumps(transform))
    assert repr(copy) == repr(transform)
    for seed in range(3):
        image = make_item("tensor-float32", seed)[:1]
        assert torch.equal(run(transform, image), run(copy, image))


def test_a_seed_repeats_and_different_seeds_differ(name):
    if name not in RANDOM_TRANSFORMS:
        image = make_item("pil-L")
        assert np.array_equal(as_array(run(BUILDERS[name](1), image)), as_array(run(BUILDERS[name](1), image)))
        return
    image = make_item("tensor-float32")[:1]

    def outputs(seed):
        transform = BUILDERS[name](1, seed=seed)
        return torch.stack([run(transform, image) for _ in range(3)])

    first = outputs(0)
    assert torch.equal(first, outputs(0))
    assert not torch.equal(first, outputs(1))
    assert not torch.equal(first[0], first[1]), "successive calls must draw new randomness"


def test_seed_none_is_fresh_randomness(name):
    if name not in RANDOM_TRANSFORMS:
        pytest.skip("deterministic")
    image = make_item("tensor-float32")[:1]
    a, b = BUILDERS[name](1, seed=None), BUILDERS[name](1, seed=None)
    assert not torch.equal(run(a, image), run(b, image))


@pytest.mark.parametrize("transform_name", PAIR_TRANSFORMS)
def test_p0_is_the_identity_and_p1_always_replaces(transform_name):
    images = [make_item("pil-L", seed) for seed in range(8)]
    never = BUILDERS[transform_name](1, p=0.0)
    always = BUILDERS[transform_name](1, p=1.0)
    for image in images:
        assert never(image, 2)[0] is image
        assert not np.array_equal(as_array(always(image, 2)[0]), as_array(image))


@pytest.mark.parametrize("transform_name", PAIR_TRANSFORMS)
def test_p_is_the_replacement_rate(transform_name):
    transform = BUILDERS[transform_name](1, p=0.3)
    image = make_item("tensor-float32")[:1]
    changed = sum(not torch.equal(transform(image, 0)[0], image) for _ in range(100))
    assert 15 <= changed <= 45  # 30 expected; a binomial sd of 4.6


@pytest.mark.parametrize("transform_name", PAIR_TRANSFORMS)
def test_torchvision_v2_compose_passes_pairs(transform_name):
    image = make_item("tensor-float32")[:1]
    pipeline = v2.Compose([BUILDERS[transform_name](1), v2.RandomHorizontalFlip(p=0.0)])
    out, label = pipeline(image, 2)
    assert label == 2 and out.shape == image.shape
    out, label = pipeline((image, 2))
    assert label == 2 and out.shape == image.shape


class PairDataset(Dataset):
    """Identical (image, label) items through a pair transform: the pattern the docs show."""

    def __init__(self, transform, n: int = 8) -> None:
        self.transform, self.n = transform, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int):
        return self.transform(random_chw(1), 1)


@pytest.mark.parametrize("transform_name", PAIR_TRANSFORMS)
def test_dataloader_workers_do_not_repeat_each_other_and_a_seeded_loader_repeats(transform_name):
    dataset = PairDataset(BUILDERS[transform_name](1, seed=0))

    def load():
        loader = DataLoader(dataset, batch_size=2, num_workers=2, generator=torch.Generator().manual_seed(0))
        return torch.cat([images for images, _ in loader])

    images = load()
    flat = images.flatten(1)
    assert all(not torch.equal(flat[i], flat[j]) for i in range(len(flat)) for j in range(i))
    assert torch.equal(images, load())


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, error, message",
    [
        (
            lambda: SyntheticReplace(model("cgan", 1), p=1.5),
            ValueError,
            r"p must be a probability in \[0, 1\], got 1.5",
        ),
        (lambda: SyntheticReplace(model("cgan", 1), p=-0.1), ValueError, r"p must be .* got -0.1"),
        (lambda: SyntheticReplace(model("cgan", 1), p=True), ValueError, r"p must be .* got bool True"),
        (lambda: SyntheticReplace(model("cgan", 1), truncation=0), ValueError, r"truncation must be"),
        (
            lambda: SyntheticReplace(model("cgan", 1), seed=-1),
            ValueError,
            r"seed must be None or a non-negative int, got -1",
        ),
        (lambda: SyntheticReplace(object()), TypeError, r"generator must provide .* got object"),
        (lambda: BatchSyntheticMix(model("cgan", 1), p=2), ValueError, r"p must be a probability in \[0, 1\], got 2"),
        (lambda: BatchSyntheticMix("runs/cgan"), TypeError, r"generator must provide .* got str"),
        (
            lambda: VAEVariation(model("cvae", 1), strength=-1),
            ValueError,
            r"strength must be a finite number >= 0 .* got -1",
        ),
        (lambda: VAEVariation(model("cvae", 1), strength=float("nan")), ValueError, r"strength must be"),
        (lambda: VAEVariation(model("cvae", 1), p=1.01), ValueError, r"p must be a probability"),
        (
            lambda: VAEVariation(model("cgan", 1)),
            TypeError,
            r"cvae must be a ConditionalVAE or the path of its bundle, got ConditionalGAN",
        ),
        (
            lambda: Denoise(model("cvae", 1)),
            TypeError,
            r"dae must be a DenoisingAutoencoder or the path of its bundle, got ConditionalVAE",
        ),
        (lambda: Denoise(model("dae", 1), batch_size=0), ValueError, r"batch_size must be a positive int, got 0"),
        (lambda: Denoise(model("dae", 1), batch_size=2.5), TypeError, r"batch_size must be a positive int, got float"),
        (lambda: Denoise("no/such/bundle"), ValueError, r"no/such/bundle"),
    ],
)
def test_bad_arguments_are_refused(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_a_bundle_of_the_wrong_model_is_refused(tmp_path):
    model("cgan", 1).save_pretrained(tmp_path / "cgan")
    with pytest.raises(TypeError, match=r"dae: the bundle .*cgan holds a ConditionalGAN, not a DenoisingAutoencoder"):
        Denoise(tmp_path / "cgan")


def rgba():
    return Image.new("RGBA", (SIZE, SIZE))


@pytest.mark.parametrize(
    "image, label, error, message",
    [
        (
            lambda: random_chw(1, 0).repeat(1, 2, 2),
            0,
            ValueError,
            r"1x16x16, but the \w+ works on images of shape \(1, 8, 8\)",
        ),
        (lambda: torch.rand(4, SIZE, SIZE), 0, ValueError, r"4 channels; expected 1 \(grayscale\) or 3 \(RGB\)"),
        (rgba, 0, ValueError, r"mode 'RGBA'"),
        (lambda: random_chw(1) * 2, 0, ValueError, r"values in \[0.4.*\]; expected \[0, 1\]"),
        (lambda: random_chw(1).int(), 0, ValueError, r"dtype torch.int32"),
        (lambda: [[0.5]], 0, TypeError, r"image must be a PIL image, a torch.Tensor or a numpy array, got list"),
        (
            lambda: make_item("pil-RGB"),
            0,
            ValueError,
            r"PIL RGB uint8 .* 3x8x8, but the \w+ works on images of shape \(1, 8, 8\)",
        ),
        (lambda: make_item("pil-L"), 3, ValueError, r"label must be an int class index in \[0, 2\], got 3"),
        (lambda: make_item("pil-L"), -1, ValueError, r"label must be an int class index in \[0, 2\], got -1"),
        (lambda: make_item("pil-L"), 1.0, TypeError, r"label must be an int class index in \[0, 2\], got float 1.0"),
    ],
)
@pytest.mark.parametrize("transform_name", list(BUILDERS))
def test_bad_items_are_refused(transform_name, image, label, error, message):
    if transform_name == "Denoise" and "label" in message:
        pytest.skip("Denoise takes no label")
    transform = BUILDERS[transform_name](1)
    with pytest.raises(error, match=message):
        run(transform, image(), label)


def test_grayscale_pil_for_an_rgb_model_names_both():
    with pytest.raises(
        ValueError, match=r"PIL L uint8 in 0..255, 1x8x8, but the generator works on images of shape \(3, 8, 8\)"
    ):
        BUILDERS["SyntheticReplace"](3)(make_item("pil-L"), 0)


@pytest.mark.parametrize("transform_name", PAIR_TRANSFORMS)
def test_a_pair_transform_needs_a_pair(transform_name):
    with pytest.raises(TypeError, match=r"takes an \(image, label\) pair, got 1 argument"):
        BUILDERS[transform_name](1)(make_item("pil-L"))


# -- SyntheticReplace ---------------------------------------------------------------------------


@pytest.mark.parametrize("label", range(NUM_CLASSES))
def test_synthetic_replace_samples_the_items_label(label):
    out, out_label = SyntheticReplace(LabelPainter(), p=1.0, seed=0)(torch.zeros(1, SIZE, SIZE), label)
    assert out_label == label
    assert (label + 1) / 4 <= float(out.min()) and float(out.max()) < (label + 1) / 4 + 0.1


def test_synthetic_replace_label_may_be_a_tensor_or_numpy_integer():
    transform = SyntheticReplace(LabelPainter(), p=1.0, seed=0)
    for label in (torch.tensor(2), np.int64(2), torch.tensor([2])):
        out, out_label = transform(torch.zeros(1, SIZE, SIZE), label)
        assert out_label is label and float(out.min()) >= 0.75


def test_synthetic_replace_forwards_truncation():
    gen, image = model("cgan", 1), make_item("tensor-float32")[:1]
    cold = SyntheticReplace(gen, p=1.0, seed=0, truncation=0.1)(image, 0)[0]
    normal = SyntheticReplace(gen, p=1.0, seed=0)(image, 0)[0]
    mean = gen.sample(torch.tensor([0]), generator=torch.Generator().manual_seed(0), truncation=1e-6)[0]
    assert (cold - mean).abs().mean() < (normal - mean).abs().mean()


# -- BatchSyntheticMix --------------------------------------------------------------------------


def replaced_rows(out: torch.Tensor) -> torch.Tensor:
    return out.flatten(1).float().amax(1) > 0  # inputs are all zero; painted images are >= 0.25


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64])
def test_batch_mix_replaces_p_of_each_batch_with_the_same_labels(dtype):
    painter = LabelPainter()
    mix = BatchSyntheticMix(painter, p=0.25, seed=0)
    counts = []
    for _ in range(100):
        images = torch.zeros(10, 1, SIZE, SIZE, dtype=dtype)
        labels = torch.arange(10) % NUM_CLASSES
        out, out_labels = mix(images, labels)
        assert out.dtype == dtype and out.device == images.device and out.shape == images.shape
        assert out_labels is labels
        assert not images.any(), "the input batch was modified in place"
        rows = replaced_rows(out)
        counts.append(int(rows.sum()))
        scale = 255 if dtype == torch.uint8 else 1
        low = (labels[rows].float() + 1) / 4 * scale
        assert (out[rows].flatten(1).float().amin(1) >= low - 1).all(), "a replacement has the wrong label"
    assert set(counts) == {2, 3}  # floor or ceil of 2.5
    assert abs(np.mean(counts) - 2.5) < 0.2
    assert painter.calls == sum(c > 0 for c in counts), "one generator call per batch"


def test_batch_mix_p0_and_p1():
    images, labels = torch.zeros(6, 1, SIZE, SIZE), torch.zeros(6, dtype=torch.long)
    assert BatchSyntheticMix(LabelPainter(), p=0.0, seed=0)(images, labels)[0] is images
    assert replaced_rows(BatchSyntheticMix(LabelPainter(), p=1.0, seed=0)((images, labels))[0]).all()


def test_batch_mix_is_reproducible_for_a_seed():
    gen = model("cgan", 1)
    images, labels = torch.rand(16, 1, SIZE, SIZE), torch.arange(16) % NUM_CLASSES

    def run_twice(seed):
        mix = BatchSyntheticMix(gen, p=0.5, seed=seed)
        return torch.cat([mix(images, labels)[0], mix(images, labels)[0]])

    assert torch.equal(run_twice(0), run_twice(0))
    assert not torch.equal(run_twice(0), run_twice(1))
    mix = BatchSyntheticMix(gen, p=0.5, seed=3)
    assert torch.equal(pickle.loads(pickle.dumps(mix))(images, labels)[0], mix(images, labels)[0])
    assert "p=0.5" in repr(mix) and "seed=3" in repr(mix)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_batch_mix_on_the_gpu_keeps_the_device():
    gen = build_generator("cgan").cuda()
    images = torch.randint(0, 256, (32, 1, SIZE, SIZE), dtype=torch.uint8, device="cuda")
    labels = (torch.arange(32) % NUM_CLASSES).cuda()
    out, _ = BatchSyntheticMix(gen, p=0.5, seed=0)(images, labels)
    assert out.device == images.device and out.dtype == torch.uint8


LABELS4 = torch.zeros(4, dtype=torch.long)


@pytest.mark.parametrize(
    "images, labels, error, message",
    [
        (torch.zeros(4, SIZE, SIZE), LABELS4, ValueError, r"images must have shape \[B, C, H, W\]"),
        (torch.zeros(4, 1, SIZE, SIZE), LABELS4[:3], ValueError, r"3 labels for 4 images"),
        (
            torch.zeros(4, 1, SIZE, SIZE),
            LABELS4 + 3,
            ValueError,
            r"labels must be in \[0, 2\], got values \[3, 3, 3, 3\]",
        ),
        (torch.zeros(4, 1, SIZE, SIZE), LABELS4.float(), TypeError, r"labels must have an integer dtype"),
        (torch.full((4, 1, SIZE, SIZE), 2.0), LABELS4, ValueError, r"values in \[2, 2\]; expected \[0, 1\]"),
        (
            torch.zeros(4, 3, SIZE, SIZE),
            LABELS4,
            ValueError,
            r"\(4, 3, 8, 8\), but the generator works on images of shape \[B, 1, 8, 8\]",
        ),
        (np.zeros((4, 1, SIZE, SIZE)), LABELS4, TypeError, r"images must be a torch.Tensor"),
    ],
)
def test_batch_mix_refuses_bad_batches(images, labels, error, message):
    with pytest.raises(error, match=message):
        BatchSyntheticMix(LabelPainter(), p=0.5, seed=0)(images, labels)


# -- Denoise ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def noisy_patterns():
    clean = make_pattern_data(10, seed=2).images  # [30, 1, 8, 8]
    noisy = gaussian_noise(clean, sigma=0.2, generator=torch.Generator().manual_seed(0))
    return clean, noisy


def mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a.float() - b.float()) ** 2).mean())


def test_denoise_lowers_the_error_on_noisy_images(trained_dae_run, noisy_patterns):
    clean, noisy = noisy_patterns
    denoise = Denoise(trained_dae_run.out_dir)  # a bundle path
    batch = denoise(noisy)
    assert mse(batch, clean) < 0.5 * mse(noisy, clean)
    # Item by item, as PIL images (uint8 both ways), gives the same picture.
    pil = [denoise(Image.fromarray(noisy[i, 0].mul(255).round().byte().numpy(), mode="L")) for i in range(len(noisy))]
    as_tensor = torch.stack([torch.from_numpy(np.array(p)) for p in pil])[:, None].float() / 255
    assert mse(as_tensor, clean) < 0.5 * mse(noisy, clean)
    assert (as_tensor - batch).abs().max() < 0.02


def test_denoise_batches_match_one_call(noisy_patterns):
    dae = model("dae", 1)
    _, noisy = noisy_patterns
    assert torch.allclose(Denoise(dae, batch_size=7)(noisy), dae.denoise(noisy), atol=1e-6)


def test_denoise_from_a_path_pickles_the_path_not_the_weights(trained_dae_run, noisy_patterns):
    path = trained_dae_run.out_dir
    denoise = Denoise(path)
    data = pickle.dumps(denoise)
    assert len(data) < (path / "model.safetensors").stat().st_size / 4
    copy = pickle.loads(data)
    assert copy.path == path and "dae=" + repr(str(path)) in repr(copy)
    assert torch.equal(copy(noisy_patterns[1]), denoise(noisy_patterns[1]))


def test_denoise_in_a_v2_compose_with_and_without_labels():
    image = make_item("pil-L")
    pipeline = v2.Compose([Denoise(model("dae", 1)), v2.PILToTensor()])
    assert pipeline(image).shape == (1, SIZE, SIZE)
    out, label = pipeline(image, 2)
    assert out.dtype == torch.uint8 and label == 2


def test_denoise_keeps_the_model_mode():
    dae = model("dae", 1).train()
    Denoise(dae)(make_item("pil-L"))
    assert dae.training
    dae.eval()


def _half_gate(dae, images) -> tuple[float, torch.Tensor]:
    """A gate half-way between the scores of ``images`` (no score near it) and which images it lets through."""
    scores = dae.score(images)
    middle = scores.sort().values[len(scores) // 2 - 1 : len(scores) // 2 + 1]
    gate = float(middle.mean())  # mid-way between two scores: batch and single-image rounding cannot cross it
    return gate, scores <= gate


def test_gate_passes_images_below_it_unchanged_and_denoises_the_rest(trained_dae_run, noisy_patterns):
    clean, noisy = noisy_patterns
    dae = synthaug.load(trained_dae_run.out_dir)
    images = torch.cat([clean, noisy])
    gate, below = _half_gate(dae, images)
    out = Denoise(dae, gate=gate)(images)
    assert torch.equal(out[below], images[below])  # bit for bit
    assert torch.allclose(out[~below], dae.denoise(images[~below]), atol=1e-6)
    assert 0 < int(below.sum()) < len(images)


def test_gate_keeps_uint8_and_pil_inputs_exact(trained_dae_run, noisy_patterns):
    _, noisy = noisy_patterns
    dae = synthaug.load(trained_dae_run.out_dir)
    as_uint8 = noisy.mul(255).round().byte()
    quantised = as_uint8.float() / 255
    gate, below = _half_gate(dae, quantised)
    out = Denoise(dae, gate=gate, batch_size=4)(as_uint8)
    assert out.dtype == torch.uint8 and torch.equal(out[below], as_uint8[below])
    assert not torch.equal(out[~below], as_uint8[~below])
    for i in range(len(noisy)):
        pil = Image.fromarray(as_uint8[i, 0].numpy(), mode="L")
        result = Denoise(dae, gate=gate)(pil)
        assert (result is pil) == bool(below[i])


def test_a_gate_above_every_score_is_the_identity_and_zero_denoises_all(noisy_patterns):
    dae = model("dae", 1)
    _, noisy = noisy_patterns
    assert torch.equal(Denoise(dae, gate=1.0)(noisy), noisy)  # scores are mean squared changes in [0, 1]
    assert torch.allclose(Denoise(dae, gate=0.0)(noisy), dae.denoise(noisy), atol=1e-6)


def test_calibrate_gate_lets_that_share_of_clean_images_through(trained_dae_run, noisy_patterns):
    clean, noisy = noisy_patterns
    dae = synthaug.load(trained_dae_run.out_dir)
    denoise = Denoise(dae, batch_size=8)
    gate = denoise.calibrate_gate(clean, quantile=0.8)
    assert denoise.gate == gate and f"gate={gate:.4g}" in repr(denoise)
    passed = float((dae.score(clean) <= gate).float().mean())
    assert 0.75 <= passed <= 0.85
    # The trained denoiser changes noisy images more than clean ones: most of them are past the gate.
    assert float((dae.score(noisy) > gate).float().mean()) > 0.8
    copy = pickle.loads(pickle.dumps(denoise))
    assert copy.gate == gate


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda d: Denoise(d, gate=-0.1), ValueError, r"gate must be None or a reconstruction-score threshold >= 0"),
        (lambda d: Denoise(d, gate="high"), TypeError, r"gate must be None or a reconstruction-score threshold"),
        (lambda d: Denoise(d).calibrate_gate(torch.rand(4, 1, SIZE, SIZE), quantile=1.0), ValueError, r"quantile"),
        (lambda d: Denoise(d).calibrate_gate(torch.rand(1, 1, SIZE, SIZE)), ValueError, r"at least 2 images"),
        (lambda d: Denoise(d).calibrate_gate(torch.rand(4, 1, 5, 5)), ValueError, r"clean_images must have shape"),
        (lambda d: Denoise(d).calibrate_gate(np.zeros((4, 1, SIZE, SIZE))), TypeError, r"clean_images must be"),
    ],
)
def test_bad_gates_are_refused(build, error, message):
    with pytest.raises(error, match=message):
        build(model("dae", 1))


# -- VAEVariation -------------------------------------------------------------------------------


def test_vae_variation_strength_zero_is_the_reconstruction(trained_cvae_run):
    import synthaug

    cvae = synthaug.load(trained_cvae_run.out_dir)
    data = make_pattern_data(5, seed=3)
    with torch.no_grad():
        mu, _ = cvae.encode(data.images, data.labels)
        reconstruction = cvae.decode(mu, data.labels)
    out = vae_variation(cvae, data.images, data.labels, strength=0.0, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out, reconstruction, atol=1e-6)
    item, label = VAEVariation(trained_cvae_run.out_dir, strength=0.0, seed=5)(data.images[0], int(data.labels[0]))
    assert torch.allclose(item, reconstruction[0], atol=1e-6)


def test_vae_variation_moves_further_with_strength(trained_cvae_run):
    import synthaug

    cvae = synthaug.load(trained_cvae_run.out_dir)
    data = make_pattern_data(20, seed=3)
    recon = vae_variation(cvae, data.images, data.labels, strength=0.0)
    distance = {}
    for strength in (0.5, 1.0, 3.0):
        out = VAEVariation(cvae, strength=strength, seed=0)(data.images, data.labels)[0]
        distance[strength] = mse(out, recon)
    assert 0 < distance[0.5] < distance[1.0] < distance[3.0]
    far = VAEVariation(cvae, strength=3.0, seed=0)(data.images, data.labels)[0]
    assert mse(far, data.images) > mse(recon, data.images)


def test_vae_variation_batches_vary_about_p_of_items():
    transform = VAEVariation(model("cvae", 1), p=0.5, seed=0)
    images = torch.rand(200, 1, SIZE, SIZE)
    out, labels = transform(images, torch.arange(200) % NUM_CLASSES)
    changed = int((out != images).flatten(1).any(1).sum())
    assert 70 <= changed <= 130


def test_vae_variation_keeps_the_model_mode_and_gradients_off():
    cvae = model("cvae", 1).train()
    image = make_item("tensor-float32")[:1].requires_grad_(True)
    out, _ = VAEVariation(cvae, seed=0)(image, 0)
    assert cvae.training and not out.requires_grad
    cvae.eval()


def test_vae_variation_from_a_path_pickles_the_path(tmp_path):
    cvae = model("cvae", 1)
    cvae.save_pretrained(tmp_path / "cvae")
    transform = VAEVariation(tmp_path / "cvae", strength=1.0, seed=0)
    data = pickle.dumps(transform)
    assert len(data) < (tmp_path / "cvae" / "model.safetensors").stat().st_size / 4
    image = make_item("pil-L")
    assert np.array_equal(as_array(pickle.loads(data)(image, 1)[0]), as_array(transform(image, 1)[0]))
