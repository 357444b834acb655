"""Use a conditional generator synthaug did not train: `synthaug.wrap` adapts it.

Any module called as `module(z, labels) -> images` works; here a tiny untrained DCGAN-style
generator stands in for yours.

    .venv/bin/python examples/wrap_your_own_generator.py
"""

import torch
from torch import nn

import synthaug


class MyGenerator(nn.Module):
    """Your own cGAN generator: z [B, 32] + labels [B] -> tanh images [B, 1, 16, 16]."""

    def __init__(self, num_classes: int = 10, latent_dim: int = 32):
        super().__init__()
        self.embed = nn.Embedding(num_classes, 8)
        self.net = nn.Sequential(nn.Linear(latent_dim + 8, 16 * 16), nn.Tanh())

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, self.embed(labels)], dim=1)).view(-1, 1, 16, 16)


gen = synthaug.wrap(MyGenerator(), num_classes=10, image_shape=(1, 16, 16), latent_dim=32, output_range=(-1, 1))
images = gen.sample(torch.tensor([0, 1, 2]), generator=torch.Generator().manual_seed(0))  # [3, 1, 16, 16] in [0, 1]
synth = synthaug.SyntheticDataset(gen, num_samples=100, class_counts={0: 50, 7: 50}, image_type="tensor")
image, label = synth[99]  # label 7
print(gen)
print(f"sampled {tuple(images.shape)} in [{images.min():.2f}, {images.max():.2f}]; item 99 has label {label}")
