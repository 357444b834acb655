"""Issue 15, section 2, for the transforms: torchvision v2 Transforms that keep tv_tensors, take
dict/tuple samples, single images and batches, move with ``.to``, and take class names."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch
from conftest import build_dae, build_generator
from PIL import Image
from torch import nn
from torchvision import tv_tensors
from torchvision.transforms import v2

from synthaug.transforms import BatchSyntheticMix, CorruptionMix, Denoise, SyntheticReplace, VAEVariation

NAMES = ["Coat", "Bag", "Hat"]
GEN = build_generator("cgan", class_names=NAMES)
CVAE = build_generator("cvae", class_names=NAMES)
DAE = build_dae()

ITEM_TRANSFORMS = {
    "SyntheticReplace": lambda: SyntheticReplace(GEN, p=1.0, seed=0),
    "VAEVariation": lambda: VAEVariation(CVAE, p=1.0, seed=0),
    "Denoise": lambda: Denoise(DAE),
    "CorruptionMix": lambda: CorruptionMix(seed=0),
}
ALL = {**ITEM_TRANSFORMS, "BatchSyntheticMix": lambda: BatchSyntheticMix(GEN, p=1.0, seed=0)}


def image(seed: int = 0) -> torch.Tensor:
    return 0.2 + 0.6 * torch.rand(1, 8, 8, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", list(ALL))
def test_every_transform_is_a_v2_transform_and_a_module(name):
    transform = ALL[name]()
    assert isinstance(transform, v2.Transform) and isinstance(transform, nn.Module)
    assert transform.to("cpu") is transform
    assert transform.state_dict() == {}  # the model is held, not a parameter of the pipeline
    assert "\n" not in repr(transform)


@pytest.mark.parametrize("name", list(ITEM_TRANSFORMS))
def test_tv_tensor_image_in_tv_tensor_image_out(name):
    inp = tv_tensors.Image(image())
    out, label = v2.Compose([ITEM_TRANSFORMS[name](), v2.RandomHorizontalFlip(p=0.0)])(inp, 1)
    assert type(out) is tv_tensors.Image and out.shape == inp.shape and out.dtype == inp.dtype
    assert label == 1 and not torch.equal(out, inp)


@pytest.mark.parametrize("name", list(ITEM_TRANSFORMS))
def test_dict_samples_pass_the_label_and_other_keys_through(name):
    sample = {"image": tv_tensors.Image(image()), "label": "Bag", "path": "a.png"}
    out = ITEM_TRANSFORMS[name]()(sample)
    assert set(out) == {"image", "label", "path"} and out["label"] == "Bag" and out["path"] == "a.png"
    assert type(out["image"]) is tv_tensors.Image and not torch.equal(out["image"], sample["image"])


@pytest.mark.parametrize("name", list(ITEM_TRANSFORMS))
def test_single_images_and_batches_alike(name):
    transform = ITEM_TRANSFORMS[name]()
    for images, labels in ((image(), 2), (torch.rand(5, 1, 8, 8), torch.tensor([0, 1, 2, 0, 1]))):
        out, out_labels = transform(images, labels)
        assert out.shape == images.shape and out.dtype == images.dtype and out_labels is labels
    uint8 = torch.randint(0, 256, (3, 1, 8, 8), dtype=torch.uint8)
    assert transform(uint8, torch.tensor([0, 1, 2]))[0].dtype == torch.uint8


@pytest.mark.parametrize("name", list(ITEM_TRANSFORMS))
def test_nn_sequential_and_pickling(name):
    pipeline = nn.Sequential(ITEM_TRANSFORMS[name](), ITEM_TRANSFORMS[name]())
    out, label = pipeline((image(), 0))
    assert out.shape == (1, 8, 8) and label == 0
    copy = pickle.loads(pickle.dumps(ITEM_TRANSFORMS[name]()))
    assert torch.equal(copy(image(), 0)[0], ITEM_TRANSFORMS[name]()(image(), 0)[0])


def test_a_label_tensor_next_to_a_numpy_image_is_not_taken_for_an_image():
    array = (image().permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    label = torch.tensor(2)
    out, out_label = Denoise(DAE)(array, label)
    assert isinstance(out, np.ndarray) and out.shape == array.shape and out_label is label


@pytest.mark.parametrize("name", ["SyntheticReplace", "VAEVariation"])
def test_labels_may_be_class_names(name):
    transform = ITEM_TRANSFORMS[name]
    by_name = transform()(image(), "Hat")
    by_index = transform()(image(), 2)
    assert by_name[1] == "Hat" and torch.equal(by_name[0], by_index[0])
    batch = torch.rand(3, 1, 8, 8)
    assert torch.equal(transform()(batch, ["Coat", "Hat", "Bag"])[0], transform()(batch, torch.tensor([0, 2, 1]))[0])
    with pytest.raises(ValueError, match=r"unknown class 'Shoe'; expected .*\['Coat', 'Bag', 'Hat'\]"):
        transform()(image(), "Shoe")


def test_batch_mix_takes_class_names_and_tv_tensor_batches():
    images = tv_tensors.Image(torch.rand(4, 1, 8, 8))
    out, labels = BatchSyntheticMix(GEN, p=1.0, seed=0)(images, ["Coat", "Bag", "Hat", "Bag"])
    again, _ = BatchSyntheticMix(GEN, p=1.0, seed=0)(images, torch.tensor([0, 1, 2, 1]))
    assert type(out) is tv_tensors.Image and torch.equal(out, again) and labels[0] == "Coat"


def test_synthetic_replace_on_a_batch_replaces_about_p_of_items():
    images = torch.zeros(200, 1, 8, 8)
    out, _ = SyntheticReplace(GEN, p=0.3, seed=0)(images, torch.arange(200) % 3)
    changed = int(out.flatten(1).any(1).sum())
    assert 40 <= changed <= 80 and not images.any()


def test_the_old_model_keyword_warns_and_generator_takes_a_torch_generator():
    with pytest.warns(DeprecationWarning, match=r"SyntheticReplace\(generator=<model>\) is deprecated"):
        old = SyntheticReplace(generator=GEN, p=1.0, seed=0)
    with pytest.warns(DeprecationWarning, match=r"BatchSyntheticMix\(generator=<model>\)"):
        BatchSyntheticMix(generator=GEN)
    assert old.model is GEN and old.generator is GEN
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        a = SyntheticReplace(GEN, p=1.0, generator=torch.Generator().manual_seed(5))
        b = SyntheticReplace(GEN, p=1.0, generator=torch.Generator().manual_seed(5))
        vary = VAEVariation(CVAE, generator=torch.Generator().manual_seed(5))
    assert a.seed == b.seed is not None and vary.seed == a.seed
    assert torch.equal(a(image(), 0)[0], b(image(), 0)[0])
    with pytest.raises(ValueError, match="seed or generator, not both"):
        SyntheticReplace(GEN, seed=1, generator=torch.Generator())


def test_pair_transforms_without_a_label_say_so():
    with pytest.raises(TypeError, match=r"takes an \(image, label\) pair, got 1 argument"):
        SyntheticReplace(GEN)({"image": image()})


def test_corruption_mix_keeps_the_item_form_and_its_generator_keyword():
    mix = CorruptionMix(["gaussian"], params={"gaussian": {"sigma": 0.3}}, seed=0)
    pil = Image.fromarray((image()[0].numpy() * 255).astype(np.uint8), mode="L")
    out = mix(pil)
    assert isinstance(out, Image.Image) and out.mode == "L" and not np.array_equal(np.asarray(out), np.asarray(pil))
    batch = torch.rand(4, 1, 8, 8)
    rng = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    assert torch.equal(mix(batch, generator=rng()), mix.corrupt(batch, rng()))  # the trainers' call
    assert torch.equal(CorruptionMix(seed=3)(batch), CorruptionMix(seed=3)(batch))
    assert mix == CorruptionMix(["gaussian"], params={"gaussian": {"sigma": 0.3}}) and len({mix, mix}) == 1
    nn.Sequential(mix).apply(lambda module: None)  # nn.Module.apply still reaches the mix
