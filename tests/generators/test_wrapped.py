"""synthaug.wrap: a user's ``module(z, y)`` behind the generator protocol."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import synthaug


class Constant(nn.Module):
    """Returns ``value`` everywhere, whatever z and y are."""

    def __init__(self, value: float, shape=(1, 8, 8)):
        super().__init__()
        self.value = value
        self.shape = shape

    def forward(self, z, labels):
        return torch.full((len(labels), *self.shape), self.value)


class LabelEcho(nn.Module):
    """Image filled with label / (num_classes - 1), in [0, 1]; checks labels reach the module."""

    def forward(self, z, labels):
        return (labels.float() / 2).view(-1, 1, 1, 1).expand(-1, 1, 4, 4).clone()


LABELS = torch.tensor([0, 1, 2])


@pytest.mark.parametrize(
    "value, output_range, expected",
    [
        (0.0, (-1.0, 1.0), 0.5),
        (-1.0, (-1.0, 1.0), 0.0),
        (1.0, (-1.0, 1.0), 1.0),
        (0.25, (0.0, 1.0), 0.25),
        (5.0, (-1.0, 1.0), 1.0),  # clamped
        (-7.0, (0.0, 1.0), 0.0),  # clamped
        (float("nan"), (0.0, 1.0), 0.5),
    ],
)
def test_output_range_is_rescaled_to_0_1(value, output_range, expected):
    gen = synthaug.wrap(Constant(value), num_classes=3, image_shape=(1, 8, 8), latent_dim=4, output_range=output_range)
    images = gen.sample(LABELS, generator=torch.Generator().manual_seed(0))
    assert images.shape == (3, 1, 8, 8)
    assert torch.allclose(images, torch.full_like(images, expected))


def test_labels_reach_the_wrapped_module():
    gen = synthaug.wrap(LabelEcho(), num_classes=3, image_shape=(1, 4, 4), latent_dim=2, output_range=(0, 1))
    images = gen.sample(torch.tensor([2, 0, 1]))
    assert images[:, 0, 0, 0].tolist() == [1.0, 0.0, 0.5]


def test_wrong_output_shape_is_reported_at_sampling():
    gen = synthaug.wrap(Constant(0.0, shape=(3, 8, 8)), num_classes=3, image_shape=(1, 8, 8), latent_dim=4)
    with pytest.raises(ValueError, match=r"\(3, 1, 8, 8\)"):
        gen.sample(LABELS)


def test_sampling_does_not_change_the_wrapped_modules_mode(generator_factory):
    """A user wraps a module they put in eval mode; sampling must not switch it to training.

    The wrapper itself starts in training mode (nn.Module's default), so restoring only the
    wrapper's flag with ``self.train(was_training)`` flips the user's module to training.
    """
    user_net = generator_factory("wrap").module
    user_net.eval()
    gen = synthaug.wrap(user_net, num_classes=3, image_shape=(1, 8, 8), latent_dim=8)
    gen.sample(LABELS, generator=torch.Generator().manual_seed(0))
    assert not user_net.training, "sample() switched the user's module into training mode"
    assert all(not m.training for m in user_net.modules())


@pytest.mark.parametrize(
    "kwargs, error, key",
    [
        (dict(module="not a module"), TypeError, "module"),
        (dict(image_shape=(8, 8)), ValueError, "image_shape"),
        (dict(image_shape=(1, 8, 0)), ValueError, "image_shape"),
        (dict(image_shape=(1, 8.0, 8)), ValueError, "image_shape"),
        (dict(output_range=(1.0, 1.0)), ValueError, "output_range"),
        (dict(output_range=(1.0, -1.0)), ValueError, "output_range"),
        (dict(output_range="ab"), TypeError, "output_range"),
        (dict(output_range=None), TypeError, "output_range"),
        (dict(num_classes=0), ValueError, "num_classes"),
        (dict(latent_dim="4"), TypeError, "latent_dim"),
        (dict(class_names=["a", "b"]), ValueError, "class_names"),
    ],
)
def test_bad_wrap_arguments(kwargs, error, key):
    args = dict(module=Constant(0.0), num_classes=3, image_shape=(1, 8, 8), latent_dim=4)
    with pytest.raises(error, match=key):
        synthaug.wrap(**{**args, **kwargs})


def test_wrapped_generator_repr_and_shape():
    gen = synthaug.wrap(Constant(0.0, shape=(3, 8, 8)), num_classes=3, image_shape=[3, 8, 8], latent_dim=4)
    assert isinstance(gen, synthaug.WrappedGenerator)
    assert gen.image_shape == (3, 8, 8)
    assert "latent_dim=4" in repr(gen)


def test_sample_takes_class_names_like_the_other_generators():
    """``sample(["Coat", "Bag"])`` resolves names through the base class's resolver, as cGAN/cVAE do."""
    gen = synthaug.wrap(
        LabelEcho(),
        num_classes=3,
        image_shape=(1, 4, 4),
        latent_dim=2,
        output_range=(0, 1),
        class_names=["T-shirt", "Coat", "Bag"],
    )
    by_name = gen.sample(["Bag", "T-shirt", "Coat"], generator=torch.Generator().manual_seed(0))
    by_index = gen.sample(torch.tensor([2, 0, 1]), generator=torch.Generator().manual_seed(0))
    assert torch.equal(by_name, by_index)
    assert by_name[:, 0, 0, 0].tolist() == [1.0, 0.0, 0.5]  # the names reached the module as their indices
    assert torch.equal(gen.sample(["Coat", 2]), gen.sample(torch.tensor([1, 2])))  # names and indices mixed
    with pytest.raises(
        ValueError,
        match=r"labels\[1\] has unknown class 'Shoe'; expected 0\.\.2 or one of \['T-shirt', 'Coat', 'Bag'\]",
    ):
        gen.sample(["Coat", "Shoe"])
    with pytest.raises(TypeError, match="labels must be a torch.Tensor of class indices or a list"):
        gen.sample("Coat")  # one name is not a list of one-letter classes


def test_sample_refuses_names_when_the_wrapped_generator_has_none():
    gen = synthaug.wrap(LabelEcho(), num_classes=3, image_shape=(1, 4, 4), latent_dim=2, output_range=(0, 1))
    assert gen.class_names is None
    assert gen.sample([0, 2]).shape == (2, 1, 4, 4)
    with pytest.raises(ValueError, match=r"labels\[0\] has unknown class 'Coat'; expected 0\.\.2$"):
        gen.sample(["Coat"])
