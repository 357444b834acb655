"""Smoke check at 64x64 RGB: a cGAN and a cVAE train on a folder of shapes as it is, losses fall, samples fit."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image, ImageDraw
from torchvision.datasets import ImageFolder

import synthaug
from synthaug.training import get_trainer_class
from synthaug.utils.seeding import seeded

SHAPES = {"red-circles": (220, 40, 40), "green-squares": (40, 200, 60), "blue-triangles": (50, 70, 230)}


def write_shapes_folder(root: Path, per_class: int = 6, size: int = 64) -> Path:
    """One class per shape and colour, at varied positions on a grey background."""
    for c, (name, colour) in enumerate(SHAPES.items()):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            image = Image.new("RGB", (size, size), (128, 128, 128))
            draw = ImageDraw.Draw(image)
            x, y, r = 16 + 4 * i, 20 + 3 * i, 12 + i
            box = (x - r, y - r, x + r, y + r)
            if c == 0:
                draw.ellipse(box, fill=colour)
            elif c == 1:
                draw.rectangle(box, fill=colour)
            else:
                draw.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=colour)
            image.save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def shapes_folder(tmp_path_factory) -> Path:
    return write_shapes_folder(tmp_path_factory.mktemp("shapes") / "folder")


@pytest.mark.slow
@pytest.mark.parametrize("family, loss", [("cgan", "loss_d"), ("cvae", "loss")])
def test_train_at_64x64_rgb_on_a_folder_of_pil_images(family, loss, shapes_folder, tmp_path):
    data = ImageFolder(str(shapes_folder))  # PIL items, labels from `targets`: trained on every image
    cls = synthaug.generators.get_generator_class(family)
    with seeded(0):
        model = cls(num_classes=3, channels=3, image_size=64, width=8, latent_dim=16, class_names=data.classes)
    assert model.config["stages"] == 3
    options = {"diffaugment": "off"} if family == "cgan" else {"gmm_components": 2, "kl_warmup_steps": 10}
    result = get_trainer_class(family)(
        model, tmp_path / "run", steps=40, batch_size=6, log_every=5, sample_every=0, progress=False, **options
    ).fit(data)
    losses = [record[loss] for record in result.history]
    assert sum(losses[-2:]) < sum(losses[:2])
    gen = synthaug.load(tmp_path / "run")
    images = gen.sample(torch.tensor([0, 1, 2]), generator=torch.Generator().manual_seed(0))
    assert images.shape == (3, 3, 64, 64) and images.min() >= 0 and images.max() <= 1
