"""bf16 autocast, channels_last and compile options: validated, and training still learns with them (on CPU)."""

from __future__ import annotations

import math

import pytest
import torch

from synthaug.training import CGANTrainer, CVAETrainer
from synthaug.training.base import TrainingConfig


def test_defaults_follow_the_device():
    cpu = TrainingConfig(device="cpu")
    assert not cpu.use_bf16 and not cpu.use_channels_last
    assert TrainingConfig(device="cpu", amp="bf16").use_bf16
    assert TrainingConfig(device="cpu", channels_last=True).use_channels_last
    cuda = TrainingConfig.__new__(TrainingConfig)
    cuda.device, cuda.amp, cuda.channels_last = "cuda", "auto", None
    assert cuda.use_bf16 and cuda.use_channels_last


@pytest.mark.parametrize(
    "overrides, error, words",
    [
        (dict(amp="fp16"), ValueError, "amp must be"),
        (dict(channels_last="yes"), TypeError, "channels_last"),
        (dict(compile=1), TypeError, "compile"),
        (dict(compile="fast"), ValueError, r"compile must be True, False or one of 'default', 'reduce-overhead'"),
    ],
)
def test_bad_speed_options_are_named(overrides, error, words):
    with pytest.raises(error, match=words):
        TrainingConfig(**overrides)


@pytest.mark.parametrize("trainer_cls, family", [(CGANTrainer, "cgan"), (CVAETrainer, "cvae")])
def test_bf16_channels_last_training_runs_and_learns(trainer_cls, family, generator_factory, pattern_data, tmp_path):
    model = generator_factory(family)
    trainer = trainer_cls(
        model,
        tmp_path,
        epochs=6,
        batch_size=32,
        lr=1e-3,
        seed=0,
        log_every=3,
        sample_every=0,
        progress=False,
        amp="bf16",
        channels_last=True,
    )
    result = trainer.fit(pattern_data)
    key = "loss_g" if family == "cgan" else "loss"
    losses = [r[key] for r in result.history if key in r]
    assert all(math.isfinite(v) for v in losses)
    if family == "cvae":
        assert losses[-1] < losses[0]
    images = model.sample(torch.arange(3))
    assert images.dtype == torch.float32 and images.shape == (3, 1, 8, 8)


@pytest.mark.parametrize(
    "trainer_cls, family, names",
    [(CGANTrainer, "cgan", {"generator", "discriminator"}), (CVAETrainer, "cvae", {"vae"})],
)
def test_compile_compiles_the_networks_the_training_step_calls(trainer_cls, family, names, generator_factory, tmp_path):
    """Not the top-level model, whose forward the step never calls (compiling it would change nothing)."""
    trainer = trainer_cls(generator_factory(family), tmp_path, compile="reduce-overhead", progress=False)
    assert set(trainer.nets) == names
    assert all(net._compiled_call_impl is not None for net in trainer.nets.values())
    plain = trainer_cls(generator_factory(family), tmp_path, progress=False)
    assert all(net._compiled_call_impl is None for net in plain.nets.values())


def test_preload_false_keeps_images_on_the_host_and_trains_the_same(generator_factory, pattern_data, tmp_path):
    """The host-memory path (for sets larger than the GPU) cuts the same batches as the preloaded one."""
    runs = {}
    for preload in (True, False):
        trainer = CVAETrainer(
            generator_factory("cvae"),
            tmp_path / str(preload),
            epochs=2,
            batch_size=16,
            seed=0,
            sample_every=0,
            progress=False,
            preload=preload,
        )
        if not preload:  # on the host, batches are gathered from the caller's tensor: no copy of the set
            assert trainer._training_images(pattern_data.images).data_ptr() == pattern_data.images.data_ptr()
        runs[preload] = trainer.fit(pattern_data)

    def without_times(history):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in history]

    assert without_times(runs[True].history) == without_times(runs[False].history)
    with pytest.raises(TypeError, match="preload must be a bool or None"):
        TrainingConfig(preload="yes")
