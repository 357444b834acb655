"""The faster DiffAugment (issue 13, point 5) gives bit-identical outputs and gradients to the original.

``_reference_*`` below is the implementation before the speed-up, kept verbatim as the
reference: for the same ``torch.Generator`` state the new ops must draw the same numbers,
in the same order, and produce the same images and the same input gradients.
"""

from __future__ import annotations

import pytest
import torch

from synthaug.training.diffaugment import AUGMENTATIONS, DiffAugment, cutout, translation


# -- the implementation before the speed-up (synthaug 0.1), verbatim --------------------------
def _randint(low, high, size, like, generator):
    return torch.randint(low, high, (size,), generator=generator, device=like.device)


def _reference_translation(x, generator=None, ratio=0.125):
    b, _, h, w = x.shape
    sy, sx = max(1, round(h * ratio)), max(1, round(w * ratio))
    ty = _randint(-sy, sy + 1, b, x, generator)
    tx = _randint(-sx, sx + 1, b, x, generator)
    padded = torch.nn.functional.pad(x, [sx, sx, sy, sy])
    rows = torch.arange(h, device=x.device)[None, :, None] + ty[:, None, None] + sy  # [B, H, 1]
    cols = torch.arange(w, device=x.device)[None, None, :] + tx[:, None, None] + sx  # [B, 1, W]
    batch = torch.arange(b, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def _reference_cutout(x, generator=None, ratio=0.5):
    b, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    y0 = _randint(0, h + (1 - size_y % 2), b, x, generator) - size_y // 2
    x0 = _randint(0, w + (1 - size_x % 2), b, x, generator) - size_x // 2
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = (
        (ys >= y0[:, None, None])
        & (ys < (y0 + size_y)[:, None, None])
        & (xs >= x0[:, None, None])
        & (xs < (x0 + size_x)[:, None, None])
    )
    return x * (~inside).unsqueeze(1).to(x.dtype)


REFERENCE = {"translation": _reference_translation, "cutout": _reference_cutout}
# ----------------------------------------------------------------------------------------------

SHAPES = [(64, 1, 28, 28), (7, 3, 32, 32), (5, 2, 8, 8), (3, 1, 9, 13), (2, 1, 1, 1), (1, 4, 3, 5)]


def _run(fn, x, seed, **kwargs):
    """Output, input gradient (of a position-weighted sum, so every pixel's route matters) and the generator's end state."""
    x = x.detach().clone().requires_grad_(True)
    generator = torch.Generator().manual_seed(seed)
    out = fn(x, generator, **kwargs)
    weights = torch.arange(out.numel(), dtype=out.dtype).view_as(out) / out.numel() - 0.3
    (grad,) = torch.autograd.grad((out * weights).sum(), x)
    return out.detach(), grad, generator.get_state()


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_same_output_gradient_and_draws_as_the_reference(name, shape, seed):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed + 7))
    out, grad, state = _run(AUGMENTATIONS[name], x, seed)
    ref_out, ref_grad, ref_state = _run(REFERENCE[name], x, seed)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.equal(out, ref_out)
    assert torch.equal(grad, ref_grad)
    assert torch.equal(state, ref_state)  # same number of draws from the caller's generator


@pytest.mark.parametrize("ratio", [0.05, 0.125, 0.3, 0.5])
def test_translation_ratio_matches_the_reference(ratio):
    x = torch.randn(16, 2, 12, 10, generator=torch.Generator().manual_seed(3))
    out, grad, _ = _run(translation, x, 4, ratio=ratio)
    ref_out, ref_grad, _ = _run(_reference_translation, x, 4, ratio=ratio)
    assert torch.equal(out, ref_out) and torch.equal(grad, ref_grad)


@pytest.mark.parametrize("ratio", [0.25, 0.5, 0.7])
def test_cutout_ratio_matches_the_reference(ratio):
    x = torch.randn(16, 2, 12, 10, generator=torch.Generator().manual_seed(3))
    out, grad, _ = _run(cutout, x, 4, ratio=ratio)
    ref_out, ref_grad, _ = _run(_reference_cutout, x, 4, ratio=ratio)
    assert torch.equal(out, ref_out) and torch.equal(grad, ref_grad)


@pytest.mark.parametrize("policy", ["translation,cutout", "color,translation,cutout", "cutout,translation"])
def test_policy_matches_the_reference_chain(policy):
    x = torch.rand(32, 3, 16, 16, generator=torch.Generator().manual_seed(5)) * 2 - 1

    def reference(images, generator):
        for name in policy.split(","):
            images = REFERENCE.get(name, AUGMENTATIONS[name])(images, generator)
        return images.contiguous()

    out, grad, state = _run(lambda images, generator: DiffAugment(policy)(images, generator), x, 9)
    ref_out, ref_grad, ref_state = _run(reference, x, 9)
    assert torch.equal(out, ref_out) and torch.equal(state, ref_state)
    assert out.is_contiguous()
    if "color" in policy:
        # The old translation handed back a channels-last-strided gradient, the new one a
        # contiguous one; colour's backward sums it over (C, H, W) in that memory order, so
        # the input gradients differ by float rounding only.
        torch.testing.assert_close(grad, ref_grad, rtol=1e-5, atol=1e-6)
    else:
        assert torch.equal(grad, ref_grad)


def test_translation_is_a_per_image_zero_filled_shift_within_range():
    # Each image is unique and has no zeros, so its shift can be read off the output.
    b, h, w = 200, 16, 16
    x = torch.arange(1, b * h * w + 1, dtype=torch.float32).view(b, 1, h, w)
    out = translation(x, torch.Generator().manual_seed(0))
    s = max(1, round(h * 0.125))
    shifts = set()
    for original, shifted in zip(x[:, 0], out[:, 0]):
        matches = [
            (dy, dx)
            for dy in range(-s, s + 1)
            for dx in range(-s, s + 1)
            if torch.equal(
                shifted, torch.nn.functional.pad(original, [s, s, s, s])[s + dy : s + dy + h, s + dx : s + dx + w]
            )
        ]
        assert len(matches) == 1  # a shift of at most s pixels each way, zeros filled in
        shifts.add(matches[0])
    assert len(shifts) == (2 * s + 1) ** 2  # every shift occurs: independent, uniform draws per image


def test_translation_gradients_of_second_order():
    x = torch.randn(4, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: translation(t, torch.Generator().manual_seed(2)), (x,))
    assert torch.autograd.gradgradcheck(lambda t: translation(t, torch.Generator().manual_seed(2)), (x,))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
def test_dtypes_and_autocast(dtype):
    x = torch.randn(8, 1, 28, 28, generator=torch.Generator().manual_seed(0)).to(dtype)
    for name, reference in REFERENCE.items():
        assert torch.equal(
            AUGMENTATIONS[name](x, torch.Generator().manual_seed(1)), reference(x, torch.Generator().manual_seed(1))
        )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = DiffAugment("translation,cutout")(x, torch.Generator().manual_seed(1))
    assert out.dtype == dtype


def test_channels_last_batch_stays_channels_last_with_the_same_values():
    x = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    augment = DiffAugment("translation,cutout")  # (colour's means sum in memory order: equal up to rounding)
    plain = augment(x, torch.Generator().manual_seed(1))
    cl = augment(x.contiguous(memory_format=torch.channels_last), torch.Generator().manual_seed(1))
    assert cl.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(plain, cl)


def test_empty_batch():
    x = torch.zeros(0, 1, 28, 28, requires_grad=True)
    out = DiffAugment("translation,cutout")(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_same_as_reference_on_cuda():
    x = torch.randn(64, 1, 28, 28, device="cuda")
    for name, reference in REFERENCE.items():
        a = AUGMENTATIONS[name](x, torch.Generator(device="cuda").manual_seed(1))
        b = reference(x, torch.Generator(device="cuda").manual_seed(1))
        assert torch.equal(a, b)


def test_cgan_training_steps_end_in_the_same_weights_as_with_the_reference(monkeypatch, tmp_path):
    """The whole point: a seeded cGAN run with the faster ops is the run it was before, bit for bit (grayscale policy)."""
    import synthaug
    from synthaug.training import CGANTrainer

    images = torch.rand(32, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(32) % 3

    def train(ops):
        for name, fn in ops.items():
            monkeypatch.setitem(AUGMENTATIONS, name, fn)
        torch.manual_seed(0)
        model = synthaug.ConditionalGAN(num_classes=3, channels=1, image_size=16, latent_dim=8)
        trainer = CGANTrainer(model, tmp_path, diffaugment="translation,cutout", batch_size=16, progress=False)
        for step in range(3):
            index = torch.arange(step * 8, step * 8 + 16) % 32
            trainer.training_step(images[index], labels[index])
        return {k: v.clone() for k, v in model.state_dict().items()}, trainer.rng.get_state()

    new_weights, new_rng = train({name: AUGMENTATIONS[name] for name in REFERENCE})
    ref_weights, ref_rng = train(REFERENCE)
    assert torch.equal(new_rng, ref_rng)
    assert new_weights.keys() == ref_weights.keys()
    for key in new_weights:
        assert torch.equal(new_weights[key], ref_weights[key]), key
