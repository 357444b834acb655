"""denoising_report: per-corruption PSNR/MSE/SSIM of corrupted vs denoised images against clean."""

from __future__ import annotations

import math

import pytest
import torch

import synthaug
from synthaug.metrics import denoising_report, image_quality, report_table
from synthaug.metrics.denoising import REPORT_KEYS, ssim_window
from synthaug.transforms import CorruptionMix


@pytest.fixture(scope="module")
def trained_dae(trained_dae_run):
    return synthaug.load(trained_dae_run.out_dir)


def test_report_has_every_corruption_and_metric(dae_factory, pattern_test_data):
    report = denoising_report(dae_factory(), pattern_test_data.images, seed=0)
    assert list(report) == ["gaussian", "salt_and_pepper", "cutout", "blur"]
    for row in report.values():
        assert tuple(row) == REPORT_KEYS
        assert all(isinstance(v, float) and math.isfinite(v) for v in row.values())
        for which in ("noisy", "denoised"):
            assert row[f"psnr_{which}"] == pytest.approx(10 * math.log10(1 / row[f"mse_{which}"]), abs=1e-3)
            assert -1 <= row[f"ssim_{which}"] <= 1


def test_a_trained_denoiser_gains_on_the_corruption_it_learned(trained_dae, pattern_test_data):
    row = denoising_report(trained_dae, pattern_test_data.images, ["gaussian"], seed=0)["gaussian"]
    assert row["psnr_denoised"] > row["psnr_noisy"] + 3
    assert row["mse_denoised"] < 0.5 * row["mse_noisy"]
    assert row["ssim_denoised"] > row["ssim_noisy"]


def test_deterministic_for_a_seed_and_independent_of_batching_and_other_corruptions(dae_factory, pattern_test_data):
    dae, clean = dae_factory(), pattern_test_data.images
    full = denoising_report(dae, clean, seed=4)
    rebatched = denoising_report(dae, clean, seed=4, batch_size=7)
    assert all(rebatched[name] == pytest.approx(full[name]) for name in full)
    assert denoising_report(dae, clean, ["blur", "gaussian"], seed=4)["gaussian"] == full["gaussian"]
    assert denoising_report(dae, clean, seed=5)["gaussian"]["mse_noisy"] != full["gaussian"]["mse_noisy"]


def test_a_mix_with_params_is_used_as_given(dae_factory, pattern_test_data):
    mild = CorruptionMix(["gaussian"], params={"gaussian": {"sigma": 0.05}})
    strong = CorruptionMix(["gaussian"], params={"gaussian": {"sigma": 0.5}})
    dae, clean = dae_factory(), pattern_test_data.images
    assert (
        denoising_report(dae, clean, mild)["gaussian"]["psnr_noisy"]
        > denoising_report(dae, clean, strong)["gaussian"]["psnr_noisy"] + 10
    )


def test_image_quality_of_identical_and_shifted_images():
    clean = torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.8
    same = image_quality(clean, clean)
    assert same["mse"] == 0 and same["ssim"] == pytest.approx(1.0) and same["psnr"] == math.inf
    shifted = image_quality(clean + 0.1, clean)
    assert shifted["mse"] == pytest.approx(0.01) and shifted["psnr"] == pytest.approx(20.0, abs=1e-3)


@pytest.mark.parametrize("side, kernel", [(8, 7), (9, 9), (10, 9), (11, 11), (28, 11)])
def test_ssim_window_fits_small_images(side, kernel):
    assert ssim_window(side, side)[0] == kernel


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(dae="model"), TypeError, "DenoisingAutoencoder"),
        (dict(clean_images=torch.rand(3, 1, 12, 12)), ValueError, "clean_images"),
        (dict(clean_images=torch.rand(3, 1, 8, 8) * 2), ValueError, "clean_images"),
        (dict(clean_images=torch.rand(0, 1, 8, 8)), ValueError, "clean_images"),
        (dict(corruptions=["speckle"]), ValueError, "speckle"),
        (dict(seed=-1), ValueError, "seed"),
        (dict(batch_size=0), ValueError, "batch_size"),
    ],
    ids=["not-a-dae", "wrong-shape", "out-of-range", "empty", "unknown-corruption", "seed", "batch_size"],
)
def test_bad_arguments_are_refused(dae_factory, kwargs, error, match):
    arguments = dict(dae=dae_factory(), clean_images=torch.rand(3, 1, 8, 8))
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        denoising_report(**arguments)


def test_report_table():
    row = dict(
        psnr_noisy=15.0, psnr_denoised=22.5, mse_noisy=0.03, mse_denoised=0.006, ssim_noisy=0.6, ssim_denoised=0.9
    )
    lines = report_table({"gaussian": row, "blur": row}).splitlines()
    assert lines[0] == "| corruption | PSNR noisy | PSNR denoised | gain | SSIM noisy | SSIM denoised |"
    assert lines[2] == "| gaussian | 15.00 dB | 22.50 dB | +7.50 dB | 0.600 | 0.900 |"
    assert len(lines) == 4
