"""Mix synthetic digits into the real training set: the README quickstart as a script.

Run `make demo` first (it writes the bundle runs/demo/cgan), then:

    .venv/bin/python examples/quickstart.py [--bundle runs/demo/cgan]
"""

import argparse

import torch
from torchvision import transforms

import synthaug
from synthaug.data.real import load_digits_data

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--bundle", default="runs/demo/cgan", help="a generator bundle directory")
parser.add_argument("--num-samples", type=int, default=1_000, help="synthetic images to add")
args = parser.parse_args()

real = load_digits_data()  # embedded digits: train/test LabelledImages [N, 1, 16, 16]
gen = synthaug.load(args.bundle)  # a ConditionalGAN in eval mode; never unpickles
synth = synthaug.SyntheticDataset(gen, num_samples=args.num_samples, seed=0, transform=transforms.ToTensor())
image, label = synth[0]  # image: float tensor [1, 16, 16] in [0, 1]; label: int
train = torch.utils.data.ConcatDataset([real.train.as_dataset(), synth])
loader = torch.utils.data.DataLoader(train, batch_size=64, shuffle=True, num_workers=2)
images, labels = next(iter(loader))  # [64, 1, 16, 16], [64]
print(synth)
print(f"real {len(real.train)} + synthetic {len(synth)} = {len(train)} training items; batch {tuple(images.shape)}")
