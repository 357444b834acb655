"""Every family trains on 32x32 RGB images read from an ImageFolder tree."""

from __future__ import annotations

import pytest
import torch

import synthaug
from synthaug.data.real import load_image_folder_data
from synthaug.training import get_trainer_class
from synthaug.utils.seeding import seeded


@pytest.mark.parametrize("family", ["cgan", "cvae", "dae"])
def test_train_on_32x32_rgb_folder(family, image_folder_factory, tmp_path):
    folder = image_folder_factory(tmp_path / "folder", classes=("red", "green", "blue"), per_class=8, size=(40, 36))
    data = load_image_folder_data(folder, image_size=32, channels=3)
    assert data.image_shape == (3, 32, 32) and data.class_names == ["blue", "green", "red"]
    cls = synthaug.generators.get_generator_class(family)
    args = {"channels": 3, "image_size": 32, "width": 8}
    if family != "dae":
        args.update(num_classes=3, latent_dim=8, class_names=data.class_names)
    with seeded(0):
        model = cls(**args)
    get_trainer_class(family)(model, tmp_path / "run", epochs=2, batch_size=8, sample_every=0, progress=False).fit(
        data.train
    )
    loaded = synthaug.load(tmp_path / "run")
    if family == "dae":
        out = loaded.denoise(data.test.images)
        assert out.shape == data.test.images.shape
    else:
        out = loaded.sample(torch.tensor([0, 1, 2]), generator=torch.Generator().manual_seed(0))
        assert out.shape == (3, 3, 32, 32)
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
