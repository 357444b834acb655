"""A long tail in a plain PyTorch loop: the logit-adjusted loss, then synthetic items in a fixed share.

The digits are cut to a long tail (120 images of "0" down to 6 of "9"). The user's change
for each remedy is a line or two:

* the logit-adjusted loss: ``criterion = synthaug.losses.LogitAdjustedLoss(counts)``;
* a top-up that keeps the rare classes' real images in charge:
  ``train = synthaug.mix(real, gen, "balance", synthetic_share=0.3)`` and
  ``DataLoader(train, sampler=train.sampler(...))``;
* head -> tail translation instead of a generator: ``gen = HeadToTail(judge, real)``.

Run `make demo` first (it writes the bundle runs/demo/cgan), then:

    .venv/bin/python examples/long_tail.py [--bundle runs/demo/cgan] [--epochs 30]
"""

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import balanced_accuracy_score
from torch.utils.data import DataLoader

import synthaug
from synthaug.data.real import LabelledImages, load_digits_data
from synthaug.filters import train_filter_classifier
from synthaug.metrics.classifier import SmallCNN
from synthaug.transforms import HeadToTail

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--bundle", default="runs/demo/cgan", help="a generator bundle directory")
parser.add_argument("--epochs", type=int, default=30, help="passes over the long-tailed training set")
parser.add_argument("--judge-steps", type=int, default=300, help="training steps of the translation's judge")
args = parser.parse_args()

digits = load_digits_data()  # LabelledImages: [N, 1, 16, 16] floats in [0, 1]
rng = np.random.default_rng(0)
keep = [  # class c keeps 120 * 0.05 ** (c / 9) images: 120 down to 6
    rng.choice(np.flatnonzero(digits.train.labels.numpy() == c), round(120 * 0.05 ** (c / 9)), replace=False)
    for c in range(10)
]
tail = LabelledImages(*(t[np.sort(np.concatenate(keep))] for t in (digits.train.images, digits.train.labels)))
real = tail.as_dataset()
counts = np.bincount(tail.labels.numpy(), minlength=10)
print("real images per class:", counts.tolist())


def train_classifier(dataset, criterion, sampler=None, seed: int = 0) -> float:
    """The user's own loop; returns balanced test accuracy."""
    torch.manual_seed(seed)
    model = SmallCNN(10, 1, 16)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(dataset, batch_size=32, shuffle=sampler is None, sampler=sampler)
    for epoch in range(args.epochs):
        if sampler is not None:
            dataset.set_epoch(epoch)
            sampler.set_epoch(epoch)
        for images, labels in loader:
            loss = criterion(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        predicted = model.eval()(digits.test.images).argmax(1)
    return balanced_accuracy_score(digits.test.labels.numpy(), predicted.numpy())


gen = synthaug.load(args.bundle)
topped_up = synthaug.mix(real, gen, "balance", synthetic_share=0.3)  # 30% of each class's draws synthetic
judge = train_filter_classifier(tail, num_classes=10, steps=args.judge_steps, progress=False)
translator = HeadToTail(judge, real)  # tail images made from head images (M2m)
translated = synthaug.mix(real, translator, {c: 60 for c in range(1, 10)}, synthetic_share=0.3)

runs = {
    "real only, cross-entropy": (real, F.cross_entropy, None),
    "logit-adjusted loss": (real, synthaug.losses.LogitAdjustedLoss(counts), None),
    "cGAN top-up, share 0.3": (topped_up, F.cross_entropy, topped_up.sampler(len(real))),
    "M2m translations, share 0.3": (translated, F.cross_entropy, translated.sampler(len(real))),
}
for name, (dataset, criterion, sampler) in runs.items():
    print(f"{name:28s} balanced test accuracy {train_classifier(dataset, criterion, sampler):.4f}")
print("\nwhat the translator made:\n" + translator.report())
