"""Trainer.fit on a user's Dataset as it is: PIL/array/tensor items, in memory or streamed, the same run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import Dataset

import synthaug
from synthaug.data.real import LabelledImages
from synthaug.data.streaming import StreamedImages, training_data
from synthaug.training import get_trainer_class
from synthaug.utils.seeding import seeded

COLOURS = ((220, 30, 30), (30, 220, 30), (30, 30, 220))


class PILDataset(Dataset):
    """``n`` RGB PIL images of ``size`` (width, height), one colour per class; no ``targets``, so labels are read by iterating."""

    def __init__(self, n: int = 24, size: tuple[int, int] = (12, 10)) -> None:
        self.n, self.size = n, size
        self.reads = 0

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int):
        self.reads += 1
        noise = np.random.default_rng(index).integers(0, 30, (self.size[1], self.size[0], 3))
        pixels = np.clip(np.array(COLOURS[index % 3]) + noise, 0, 255).astype(np.uint8)
        return Image.fromarray(pixels), index % 3


class ArrayDataset(Dataset):
    """Grayscale uint8 arrays ``[H, W]`` with a ``targets`` list, as torchvision datasets have."""

    def __init__(self, n: int = 16) -> None:
        self.targets = [i % 2 for i in range(n)]
        self.reads = 0

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        self.reads += 1
        return np.full((8, 8), 40 + 150 * self.targets[index], dtype=np.uint8), self.targets[index]


def build(family: str, channels: int = 3, size: int = 8):
    cls = synthaug.generators.get_generator_class(family)
    args = {"channels": channels, "image_size": size, "width": 8}
    if family != "dae":
        args.update(num_classes=3, latent_dim=8)
    with seeded(0):
        return cls(**args)


def train(family, data, out, **options):
    model = build(family)
    defaults = dict(steps=6, batch_size=8, sample_every=0, progress=False, log_every=2)
    if family == "cvae":
        defaults.update(gmm_components=2)
    trainer = get_trainer_class(family)(model, out, **{**defaults, **options})
    return trainer, trainer.fit(data)


def test_fit_trains_on_a_dataset_of_pil_images(tmp_path):
    data = PILDataset()
    trainer, result = train("cgan", data, tmp_path / "run")
    assert result.steps == 6 and [r["step"] for r in result.history] == [2, 3, 4, 6]  # 3 steps an epoch
    gen = synthaug.load(tmp_path / "run")
    out = gen.sample(torch.tensor([0, 1, 2]), generator=torch.Generator().manual_seed(0))
    assert out.shape == (3, 3, 8, 8) and out.min() >= 0 and out.max() <= 1


def test_labels_come_from_targets_and_each_image_is_decoded_once(tmp_path):
    data = ArrayDataset()
    fitted = training_data(data, (3, 8, 8), progress=False)
    assert isinstance(fitted, LabelledImages) and fitted.images.shape == (16, 3, 8, 8)
    assert fitted.labels.tolist() == data.targets
    assert data.reads == 16 + 1  # every image once, plus the first checked up front; no label pass
    assert torch.allclose(fitted.images[1], torch.full((3, 8, 8), 190 / 255))  # grayscale made RGB


@pytest.mark.parametrize("family", ["cgan", "cvae", "dae"])
def test_a_streamed_run_is_the_in_memory_run(family, tmp_path):
    """Streaming (in_memory_limit_mb=0) feeds the same batches in the same order: identical weights."""
    _, in_memory = train(family, PILDataset(), tmp_path / "memory")
    trainer, streamed = train(family, PILDataset(), tmp_path / "streamed", in_memory_limit_mb=0, num_workers=0)
    assert isinstance(trainer.training_data(PILDataset()), StreamedImages)
    assert in_memory.history == [
        {**r, "seconds": in_memory.history[i]["seconds"]} for i, r in enumerate(streamed.history)
    ]
    a, b = synthaug.load(tmp_path / "memory").state_dict(), synthaug.load(tmp_path / "streamed").state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_streaming_with_a_worker_process(tmp_path):
    _, in_memory = train("cgan", PILDataset(), tmp_path / "memory")
    _, streamed = train("cgan", PILDataset(), tmp_path / "worker", in_memory_limit_mb=0, num_workers=1)
    assert [r["loss_d"] for r in streamed.history] == [r["loss_d"] for r in in_memory.history]


def test_streamed_data_and_an_unlabelled_pool_is_refused(tmp_path):
    model = build("cgan")
    trainer = get_trainer_class("cgan")(model, tmp_path / "run", steps=2, in_memory_limit_mb=0, progress=False)
    with pytest.raises(ValueError, match="in_memory_limit_mb"):
        trainer.fit(PILDataset(), unlabelled=torch.rand(4, 3, 8, 8))


@pytest.mark.parametrize(
    "data, error, match",
    [
        (torch.rand(4, 3, 8, 8), TypeError, "map-style Dataset"),
        (42, TypeError, "map-style Dataset"),
        ([(torch.rand(3, 8, 8) * 5, 0)] * 4, ValueError, r"data item 0: .*\[0, 1\]"),
        ([(torch.rand(3, 8, 8), 5)] * 4, ValueError, r"labels must be int64 in \[0, 2\]"),
        ([], ValueError, "empty"),
    ],
    ids=["tensor", "int", "normalised", "label-out-of-range", "empty"],
)
def test_bad_datasets_are_refused_before_training(data, error, match, tmp_path):
    trainer = get_trainer_class("cgan")(build("cgan"), tmp_path / "run", steps=2, progress=False)
    with pytest.raises(error, match=match):
        trainer.fit(data)
    assert not (tmp_path / "run").exists()
