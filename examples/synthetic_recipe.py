"""synthaug's recipe for a small data set, in a plain PyTorch training loop, beside real only.

The recipe (docs/benchmarks.md, "Recipes"): as many synthetic items as real ones, drawn
fresh every epoch, each counting 0.3 in the loss, with soft labels from a classifier
trained on the real images. The whole change to a training script is the ``mix`` line
and ``set_epoch``; the loss stays ``F.cross_entropy(model(images), targets)``.

Run `make demo` first (it writes the bundle runs/demo/cgan), then:

    .venv/bin/python examples/synthetic_recipe.py [--bundle runs/demo/cgan] [--epochs 30]
"""

import argparse

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

import synthaug
from synthaug.data.real import load_digits_data
from synthaug.filters import train_filter_classifier
from synthaug.metrics.classifier import SmallCNN, accuracy

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--bundle", default="runs/demo/cgan", help="a generator bundle directory")
parser.add_argument("--epochs", type=int, default=30, help="passes over the training set")
parser.add_argument("--teacher-steps", type=int, default=300, help="training steps of the soft-label teacher")
args = parser.parse_args()

gen = synthaug.load(args.bundle)
digits = load_digits_data()  # LabelledImages: [N, 1, 16, 16] floats in [0, 1]
real = digits.train.as_dataset()

# The teacher: a small classifier trained on the real images only.
teacher = train_filter_classifier(digits.train, steps=args.teacher_steps, progress=False)
# The recipe: one line. Targets become class-probability vectors that F.cross_entropy reads.
train = synthaug.mix(real, gen, "ratio", ratio=1.0, synthetic_weight=0.3, soft_labels=teacher)
print(train, "\n")


def train_classifier(dataset, seed: int = 0) -> float:
    """The user's own loop; returns test accuracy."""
    torch.manual_seed(seed)
    model = SmallCNN(digits.num_classes, 1, 16)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(args.epochs):
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)  # fresh synthetic samples every epoch
        for images, targets in DataLoader(dataset, batch_size=64, shuffle=True):
            loss = F.cross_entropy(model(images), targets)  # class indices or probability vectors
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return accuracy(model.eval(), digits.test)


print(f"real only:          test accuracy {train_classifier(real):.4f}")
print(f"real + the recipe:  test accuracy {train_classifier(train):.4f}")
