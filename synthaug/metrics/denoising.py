"""How much a denoiser helps: PSNR, SSIM and MSE of corrupted vs denoised images against clean.

For each corruption the clean held-out images are corrupted (seeded), denoised, and both
versions are compared with the clean images. PSNR and SSIM come from torchmetrics'
functional API with ``data_range=1.0``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from synthaug.generators.dae import DenoisingAutoencoder
from synthaug.transforms.corruptions import CorruptionMix
from synthaug.utils.optional import optional_dependency
from synthaug.validation import check_seed, positive_int

REPORT_KEYS = ("psnr_noisy", "psnr_denoised", "mse_noisy", "mse_denoised", "ssim_noisy", "ssim_denoised")


def ssim_window(height: int, width: int) -> tuple[int, float]:
    """``(kernel_size, sigma)`` of the Gaussian SSIM window for images of this size.

    The standard window (11 pixels, sigma 1.5; Wang et al. 2004) for images of at least
    11 pixels a side; smaller images get the largest odd window that fits, with sigma
    scaled alike, so the statistics are not mostly reflected padding.
    """
    side = min(height, width)
    kernel = 11 if side >= 11 else max(3, side - 1 if side % 2 == 0 else side)
    return kernel, 1.5 * kernel / 11


def image_quality(images: torch.Tensor, clean: torch.Tensor) -> dict[str, float]:
    """``{"psnr", "mse", "ssim"}`` of ``images`` against ``clean`` (both ``[N, C, H, W]`` in [0, 1]).

    MSE and PSNR are over the whole set (``PSNR = 10 log10(1 / MSE)``), so a few images a
    corruption happened to leave unchanged do not make the mean infinite; SSIM is the
    mean over images.
    """
    # Imported here: torchmetrics adds about a second to `import synthaug.metrics`, which
    # the classifier helpers (and the demo) do not need.
    with optional_dependency("torchmetrics", "image_quality (PSNR, SSIM)"):
        from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

    kernel, sigma = ssim_window(*clean.shape[-2:])
    images, clean = images.float(), clean.float()
    ssim = structural_similarity_index_measure(images, clean, data_range=1.0, kernel_size=kernel, sigma=sigma)
    assert isinstance(ssim, torch.Tensor)  # a tuple only with return_full_image=True
    return {
        "psnr": float(peak_signal_noise_ratio(images, clean, data_range=1.0)),
        "mse": float(torch.mean((images - clean) ** 2)),
        "ssim": float(ssim),
    }


def denoising_report(
    dae: DenoisingAutoencoder,
    clean_images: torch.Tensor,
    corruptions: CorruptionMix | Mapping[str, float] | Sequence[str] | str | None = None,
    seed: int = 0,
    batch_size: int = 256,
) -> dict[str, dict[str, float]]:
    """Per corruption, the quality of the corrupted and of the denoised images against clean.

    Args:
        dae: the trained denoiser.
        clean_images: held-out clean images ``[N, C, H, W]`` in [0, 1] matching the model.
        corruptions: a :class:`~synthaug.transforms.CorruptionMix` or what it accepts
            (default: all four built-in corruptions with their default severities).
            Each corruption is applied to every image, not mixed.
        seed: the corruption draws; every corruption starts from this seed, so its row
            does not depend on which other corruptions are evaluated.
        batch_size: images denoised at a time.

    Returns:
        ``{corruption: {psnr_noisy, psnr_denoised, mse_noisy, mse_denoised, ssim_noisy,
        ssim_denoised}}`` with floats; PSNR in dB (higher is better), SSIM in [-1, 1]
        (higher is better), MSE on the [0, 1] scale (lower is better).

    Example:
        >>> report = denoising_report(synthaug.load("runs/digits-dae"), data.test.images, seed=0)
        >>> report["gaussian"]["psnr_denoised"] > report["gaussian"]["psnr_noisy"]
        True
    """
    if not isinstance(dae, DenoisingAutoencoder):
        raise TypeError(f"dae must be a DenoisingAutoencoder, got {type(dae).__name__}")
    dae.check_images(clean_images, name="clean_images")
    if not len(clean_images):
        raise ValueError("clean_images must hold at least one image")
    check_seed("seed", seed)
    positive_int("batch_size", batch_size)
    mix = corruptions if isinstance(corruptions, CorruptionMix) else CorruptionMix(corruptions)
    clean = clean_images.float().cpu()
    report = {}
    for name in mix.names:
        noisy = mix.apply(name, clean, generator=torch.Generator().manual_seed(seed))
        denoised = torch.cat([dae.denoise(batch.to(dae.device)).cpu() for batch in noisy.split(batch_size)])
        before, after = image_quality(noisy, clean), image_quality(denoised, clean)
        report[name] = {
            f"{metric}_{which}": values[metric]
            for metric in ("psnr", "mse", "ssim")
            for which, values in (("noisy", before), ("denoised", after))
        }
    return report


def report_table(report: Mapping[str, Mapping[str, Any]]) -> str:
    """A markdown table of a :func:`denoising_report`: PSNR before/after, its gain, SSIM before/after."""
    lines = [
        "| corruption | PSNR noisy | PSNR denoised | gain | SSIM noisy | SSIM denoised |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in report.items():
        gain = row["psnr_denoised"] - row["psnr_noisy"]
        lines.append(
            f"| {name} | {row['psnr_noisy']:.2f} dB | {row['psnr_denoised']:.2f} dB | {gain:+.2f} dB | "
            f"{row['ssim_noisy']:.3f} | {row['ssim_denoised']:.3f} |"
        )
    return "\n".join(lines)
