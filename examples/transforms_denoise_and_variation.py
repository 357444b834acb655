"""Denoise noisy digits and vary real ones with a cVAE: trained models as data-pipeline transforms.

Trains a small denoising autoencoder and a conditional VAE on the embedded digits and saves
them as bundles, then uses them as transforms:

1. ``Denoise`` in a torchvision v2 pipeline on noisy PIL digits, in DataLoader workers
   (built from the bundle path, so workers load the model themselves);
2. ``VAEVariation`` on ``(image, label)`` items through a four-line dataset wrapper;
3. ``BatchSyntheticMix`` on batches after the DataLoader;
4. the albumentations counterparts, saved to a dict and rebuilt from it.

    .venv/bin/python examples/transforms_denoise_and_variation.py [--tiny] [--out runs/transforms-example]

``--tiny`` trains small models for one epoch each (seconds; they denoise badly). The
bundles go to a temporary directory unless ``--out`` names one.
"""

import argparse
import tempfile
from pathlib import Path

import albumentations as A
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2
from torchvision.transforms.functional import to_pil_image

import synthaug
import synthaug.albumentations as SA
from synthaug.data.real import load_digits_data
from synthaug.training import CVAETrainer, DAETrainer
from synthaug.transforms import BatchSyntheticMix, Denoise, VAEVariation, gaussian_noise
from synthaug.utils.seeding import seeded


class PairTransformed(Dataset):
    """Apply a transform to whole (image, label) items: torchvision datasets give `transform` the image only."""

    def __init__(self, dataset, transform):
        self.dataset, self.transform = dataset, transform

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        return self.transform(*self.dataset[index])


class NoisyDigits(Dataset):
    """Held-out digits as noisy PIL images (gaussian noise, sigma 0.2) with their labels."""

    def __init__(self, data, transform=None):
        self.noisy = gaussian_noise(data.images, sigma=0.2, generator=torch.Generator().manual_seed(0))
        self.labels, self.transform = data.labels, transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        image = to_pil_image(self.noisy[index])  # PIL L 16x16
        return (self.transform(image) if self.transform else image), int(self.labels[index])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="one epoch each, small models: runs in seconds")
    parser.add_argument("--out", type=Path, default=None, help="keep the bundles here (default: a temporary directory)")
    args = parser.parse_args()
    if args.out is None:
        with tempfile.TemporaryDirectory() as tmp:
            run(Path(tmp), args.tiny)
    else:
        run(args.out, args.tiny)


def run(out: Path, tiny: bool) -> None:
    epochs, width = (1, 8) if tiny else (30, 32)

    data = load_digits_data()  # train 1,347 / test 450 x [1, 16, 16] in [0, 1]
    with seeded(0):
        dae = synthaug.DenoisingAutoencoder(channels=1, image_size=16, width=width)
        cvae = synthaug.ConditionalVAE(num_classes=10, channels=1, image_size=16, width=width)
    DAETrainer(
        dae, out / "dae", epochs=epochs, seed=0, corruptions={"gaussian": 1}, sample_every=0, progress=False
    ).fit(data.train)
    CVAETrainer(cvae, out / "cvae", epochs=epochs, seed=0, sample_every=0, progress=False).fit(data.train)

    # 1. Denoise noisy PIL digits, then to tensors, in two DataLoader workers.
    pipeline = v2.Compose([Denoise(out / "dae"), v2.PILToTensor(), v2.ToDtype(torch.float32, scale=True)])
    loader = DataLoader(NoisyDigits(data.test, transform=pipeline), batch_size=150, num_workers=2)
    denoised = torch.cat([images for images, _ in loader])  # [450, 1, 16, 16]
    noisy = NoisyDigits(data.test).noisy
    print(
        f"Denoise: MSE to clean {((noisy - data.test.images) ** 2).mean():.4f} noisy -> "
        f"{((denoised - data.test.images) ** 2).mean():.4f} denoised   ({pipeline.transforms[0]})"
    )

    # 2. VAE variations of real training items, seeded.
    vary = VAEVariation(out / "cvae", strength=0.5, p=0.5, seed=0)
    train = PairTransformed(data.train.as_dataset(), vary)
    image, label = train[0]  # a float [1, 16, 16] tensor in [0, 1], like the real item; the same label
    images, labels = next(iter(DataLoader(train, batch_size=64, shuffle=True, num_workers=2)))
    print(f"VAEVariation: item 0 {tuple(image.shape)} label {label}; batch {tuple(images.shape)}   ({vary})")

    # 3. Replace 30% of each batch by cVAE samples of the same labels, after the DataLoader.
    mix = BatchSyntheticMix(synthaug.load(out / "cvae"), p=0.3, seed=0)
    mixed, labels = mix(images, labels)
    replaced = int((mixed != images).flatten(1).any(1).sum())
    print(f"BatchSyntheticMix: replaced {replaced} of {len(images)} images")

    # 4. albumentations: numpy HWC uint8 in and out; the label travels as a named target.
    album = A.Compose([SA.Denoise(out / "dae"), SA.VAEVariation(out / "cvae", strength=0.5, p=0.5)], seed=0)
    rebuilt = A.from_dict(A.to_dict(album))  # the dict names the bundles, not the weights
    digit = (data.test.images[0, 0].numpy() * 255).round().astype(np.uint8)[:, :, None]  # [16, 16, 1]
    result = rebuilt(image=digit, label=int(data.test.labels[0]))
    print(f"albumentations: {result['image'].shape} {result['image'].dtype}, label {result['label']}")


if __name__ == "__main__":
    main()
