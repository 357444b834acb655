"""Every way to mix synthetic digits into the real ones, with a quality filter, batch mode and export.

Run `make demo` first (it writes the bundle runs/demo/cgan), then:

    .venv/bin/python examples/mix_strategies.py [--bundle runs/demo/cgan] [--filter-steps 300]
"""

import argparse
import tempfile
from pathlib import Path

import torch
from torchvision.datasets import ImageFolder

import synthaug
from synthaug.data.real import load_digits_data
from synthaug.export import export_imagefolder
from synthaug.filters import Filter, train_filter_classifier

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--bundle", default="runs/demo/cgan", help="a generator bundle directory")
parser.add_argument("--filter-steps", type=int, default=300, help="training steps of the filter's classifier")
args = parser.parse_args()

gen = synthaug.load(args.bundle)
digits = load_digits_data()  # LabelledImages, [N, 1, 16, 16] float in [0, 1]
real = digits.train.as_dataset()  # (tensor [1, 16, 16], int) items with .targets
keep = [i for i, label in enumerate(real.targets) if label >= 5 or i % 4 == 0]
imbalanced = torch.utils.data.Subset(real, keep)  # classes 0-4 cut to a quarter

# 1. The lecture's recipe: one synthetic item per six real ones, with the real class mix.
lecture = synthaug.mix(real, gen, "ratio", ratio=1 / 6)
print(lecture, "\n")

# 2. Imbalanced data: top every class up to the largest one (or target=N).
balanced = synthaug.mix(imbalanced, gen, "balance")
print(balanced.summary(), "\n")
# imbalanced-learn's sampling_strategy words work too; the seed may come from a torch.Generator.
rare = synthaug.mix(imbalanced, gen, "minority", generator=torch.Generator().manual_seed(0))
print("minority:", rare.synthetic_counts, " classes:", rare.classes[:3], "...")

# 3. Exact counts per class, or a rule computed from the real counts.
boost = synthaug.mix(imbalanced, gen, {0: 50, "1": 50})
doubled_rare = synthaug.mix(imbalanced, gen, lambda counts: {c: n for c, n in counts.items() if n < 60})
print("dict:", boost.synthetic_counts, " callable:", doubled_rare.synthetic_counts)

# 4. Replace 30% of real items by synthetic ones of the same class; new choice every epoch.
replaced = synthaug.mix(real, gen, "replace", p=0.3)
replaced.set_epoch(1)
print("replace:", sum(replaced.synthetic_counts), "of", len(replaced), "items synthetic this epoch")

# 5. Keep only samples a real-data classifier agrees with (warn instead of failing for classes it rejects).
classifier = train_filter_classifier(digits.train, steps=args.filter_steps, progress=False)
screen = Filter(classifier, min_confidence=0.9, on_shortfall="warn")
filtered = synthaug.SyntheticDataset(gen, 200, image_type="tensor", filter=screen)
images = torch.stack([filtered[i][0] for i in range(len(filtered))])
print(screen.report(gen.class_names))

# 6. Batch mode: whole batches in one generator call, on the generator's device.
for batch in filtered.batches(batch_size=64):
    images, labels = batch  # the last one is printed below
print("last batch:", tuple(images.shape), labels[:8].tolist())

# 7. Export to an ImageFolder tree that torchvision reads back.
with tempfile.TemporaryDirectory() as tmp:
    out = export_imagefolder(gen, Path(tmp) / "synthetic-digits", num_samples=100, progress=False)
    folder = ImageFolder(out)
    print(f"exported {len(folder)} PNGs in {len(folder.classes)} class folders")
