"""Print the parameter counts of the default cGAN and cVAE at 16, 28, 32, 64 and 128 px.

Usage: python scripts/parameter_counts.py [--channels 3] [--num-classes 10]

One Markdown table: for each size the stages chosen (see
synthaug.generators.blocks.default_stages), the cGAN's generator and discriminator, the
cVAE's encoder (with its moments layer) and decoder, and, for comparison, the cGAN's
generator/discriminator in the two-stage layout every size had before. Nothing is trained;
models are built on the meta device, so this takes a second.
"""

from __future__ import annotations

import argparse

import torch

from synthaug import ConditionalGAN, ConditionalVAE
from synthaug.generators.base import count_parameters

SIZES = (16, 28, 32, 64, 128)


def millions(count: int) -> str:
    return f"{count / 1e6:.2f} M"


def rows(channels: int, num_classes: int) -> list[str]:
    lines = [
        "| size | stages | cGAN generator | cGAN discriminator | G/D | cVAE encoder | cVAE decoder "
        "| two stages: G | two stages: D |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    with torch.device("meta"):  # shapes only: no memory, no initialisation
        for size in SIZES:
            gan = ConditionalGAN(num_classes, channels=channels, image_size=size)
            vae = ConditionalVAE(num_classes, channels=channels, image_size=size)
            old = ConditionalGAN(num_classes, channels=channels, image_size=size, stages=2)
            g, d = count_parameters(gan.generator), count_parameters(gan.discriminator)
            encoder = count_parameters(vae.encoder) + count_parameters(vae.to_moments)
            lines.append(
                f"| {size} | {gan.config['stages']} | {millions(g)} | {millions(d)} | {g / d:.1f} "
                f"| {millions(encoder)} | {millions(count_parameters(vae.decoder))} "
                f"| {millions(count_parameters(old.generator))} | {millions(count_parameters(old.discriminator))} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=3, help="image channels (default 3)")
    parser.add_argument("--num-classes", type=int, default=10, help="classes (default 10)")
    args = parser.parse_args()
    print(f"default cGAN / cVAE, {args.channels} channel(s), {args.num_classes} classes\n")
    print("\n".join(rows(args.channels, args.num_classes)))


if __name__ == "__main__":
    main()
