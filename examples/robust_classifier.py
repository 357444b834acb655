"""A classifier that meets noisy images at test time: put a denoising autoencoder in front of it.

The user has a classifier trained on clean digits. At test time the images arrive noisy
(a cheap sensor: Gaussian noise and salt-and-pepper specks). The change is three lines:

    denoise = Denoise("runs/robust-example/dae")     # a DenoisingAutoencoder bundle
    denoise.calibrate_gate(clean_validation_images)  # clean images pass through untouched
    logits = classifier(denoise(test_images))

and one more flags the damaged inputs: ``reconstruction_score(dae, images)``.

    .venv/bin/python examples/robust_classifier.py [--tiny] [--out runs/robust-example]

``--tiny`` trains for a few steps (seconds; the numbers then mean little).
"""

import argparse
import tempfile
from pathlib import Path

import torch

import synthaug
from synthaug.data.real import LabelledImages, load_digits_data
from synthaug.metrics import detection_auroc, reconstruction_score, train_classifier
from synthaug.training import DAETrainer
from synthaug.transforms import Denoise, gaussian_noise, salt_and_pepper
from synthaug.utils.seeding import seeded

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--tiny", action="store_true", help="a few training steps, for a quick check")
parser.add_argument("--out", type=Path, default=None, help="where the DAE bundle goes (default: a temporary folder)")
args = parser.parse_args()
steps = 30 if args.tiny else 2000

digits = load_digits_data()  # train 1,347 / test 450 x [1, 16, 16] in [0, 1]
train = LabelledImages(digits.train.images[150:], digits.train.labels[150:])
validation = digits.train.images[:150]  # clean images the models never train on: they place the gate

# The user's classifier, trained on clean images only.
classifier = train_classifier(train.as_dataset(), 10, (1, 16, 16), steps=steps, progress=False).eval()

# A denoiser for the same images, trained to undo synthaug's corruptions.
out = args.out or Path(tempfile.mkdtemp()) / "dae"
with seeded(0):
    dae = synthaug.DenoisingAutoencoder(channels=1, image_size=16, width=32)
DAETrainer(dae, out, steps=steps, seed=0, progress=False, sample_every=0).fit(train)

rng = torch.Generator().manual_seed(0)
clean = digits.test.images
noisy = {
    "gaussian 0.3": gaussian_noise(clean, sigma=0.3, generator=rng),
    "salt and pepper 20%": salt_and_pepper(clean, amount=0.2, generator=rng),
}

# ---- the change: three lines --------------------------------------------------------------
denoise = Denoise(out)
gate = denoise.calibrate_gate(validation, quantile=0.95)  # 95% of clean images pass untouched


def accuracy(images: torch.Tensor) -> float:
    with torch.no_grad():
        return float((classifier(images).argmax(1) == digits.test.labels).float().mean()) * 100


print(f"gate: reconstruction score > {gate:.5f} is denoised")
print(f"{'test images':22} {'no defence':>10} {'Denoise':>8}")
for name, images in {"clean": clean, **noisy}.items():
    print(f"{name:22} {accuracy(images):9.1f}% {accuracy(denoise(images)):7.1f}%")

# ---- flagging damaged inputs ----------------------------------------------------------------
clean_scores = reconstruction_score(dae, clean)
for name, images in noisy.items():
    print(f"AUROC {name} vs clean: {detection_auroc(clean_scores, reconstruction_score(dae, images)):.3f}")
