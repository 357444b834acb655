"""HeadToTail (M2m): accepted translations are what the frozen classifier calls the target class;
what cannot be translated is reported and replaced by a real image of the class, never mislabelled."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import synthaug
from synthaug.data.real import LabelledImages
from synthaug.transforms.translation import HeadToTail, TranslationShortfall
from synthaug.utils.seeding import seeded

COUNTS = [48, 16, 4]


@pytest.fixture(scope="module")
def long_tail(pattern_factory) -> LabelledImages:
    data = pattern_factory(48, seed=4)
    keep = torch.cat([torch.nonzero(data.labels == c).flatten()[:n] for c, n in enumerate(COUNTS)])
    return LabelledImages(data.images[keep], data.labels[keep])


@pytest.fixture(scope="module")
def classifier(long_tail) -> nn.Module:
    """A small linear classifier trained on the long tail, frozen afterwards."""
    with seeded(0):
        net = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(60):
        loss = nn.functional.cross_entropy(net(long_tail.images), long_tail.labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net.eval()


def probabilities(classifier, images):
    with torch.no_grad():
        return classifier(images).softmax(1)


def test_it_is_a_generator_of_the_real_data_shape(classifier, long_tail):
    translator = HeadToTail(classifier, long_tail)
    assert isinstance(translator, synthaug.GeneratorProtocol)
    assert translator.num_classes == 3 and translator.image_shape == (1, 8, 8)


def test_sources_come_only_from_larger_classes(classifier, long_tail):
    weights = HeadToTail(classifier, long_tail).source_weights
    assert weights[2, 0] > weights[2, 1] > 0  # the largest class gives most to the rarest
    assert weights[0].sum() == 0  # nothing is larger than the head class
    assert weights[1, 2] == 0 and weights[2, 2] == 0


def test_accepted_translations_are_the_target_class_at_the_threshold(classifier, long_tail):
    translator = HeadToTail(classifier, long_tail, steps=10, step_size=0.1, threshold=0.9)
    labels = torch.tensor([1, 2] * 12)
    images = translator.sample(labels, generator=torch.Generator().manual_seed(0))
    assert images.shape == (24, 1, 8, 8) and 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    assert translator.translated.sum() > 0, translator.report()
    confident = probabilities(classifier, images).gather(1, labels[:, None]).squeeze(1) >= 0.9
    real = torch.tensor([bool((long_tail.images == image).flatten(1).all(1).any()) for image in images])
    # Every output is either a translation the classifier calls the target class, or a real image.
    assert bool((confident | real).all())
    assert translator.translated.sum() + translator.fell_back.sum() == translator.requested.sum() == 24


def test_translate_reports_confidence_and_the_fall_of_the_source_logit(classifier, long_tail):
    translator = HeadToTail(classifier, long_tail, steps=10, step_size=0.1)
    heads = long_tail.images[long_tail.labels == 0][:8]
    result = translator.translate(heads, torch.zeros(8, dtype=torch.long), torch.full((8,), 2))
    assert result.images.shape == heads.shape
    assert torch.equal(result.accepted, (result.confidence >= 0.9) & (result.source_logit_drop > 0))
    with torch.no_grad():
        assert torch.allclose(classifier(result.images).softmax(1)[:, 2], result.confidence, atol=1e-5)


def test_what_cannot_be_translated_falls_back_to_real_images_of_the_class(classifier, long_tail):
    # No steps: a head image stays a head image, so every candidate is rejected.
    translator = HeadToTail(classifier, long_tail, steps=0)
    labels = torch.full((6,), 2)
    images = translator.sample(labels, generator=torch.Generator().manual_seed(1))
    tail = long_tail.images[long_tail.labels == 2]
    assert all(bool((tail == image).flatten(1).all(1).any()) for image in images)
    assert translator.fell_back[2] == 6 and translator.translated[2] == 0
    assert "| 2 | 4 | 6 | 0 | 6 | 0% |" in translator.report()


def test_on_reject_error_names_the_classes_it_could_not_translate(classifier, long_tail):
    translator = HeadToTail(classifier, long_tail, steps=0, on_reject="error")
    with pytest.raises(TranslationShortfall, match=r"6 of 6 images were not translated.*2: 6"):
        translator.sample(torch.full((6,), 2))


def test_the_classifier_is_not_changed(classifier, long_tail):
    classifier.zero_grad(set_to_none=True)  # the fixture's training left gradients
    before = [p.detach().clone() for p in classifier.parameters()]
    HeadToTail(classifier, long_tail, steps=3).sample(torch.tensor([1, 2, 2]))
    assert all(torch.equal(a, b) for a, b in zip(before, classifier.parameters()))
    assert all(p.grad is None for p in classifier.parameters())


def test_a_seeded_call_repeats_itself(classifier, long_tail):
    translator = HeadToTail(classifier, long_tail, steps=3)
    labels = torch.tensor([1, 2, 2, 1])
    a = translator.sample(labels, generator=torch.Generator().manual_seed(3))
    b = translator.sample(labels, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_latent_translation_decodes_through_the_cvae(classifier, long_tail, generator_factory):
    cvae = generator_factory("cvae")
    translator = HeadToTail(classifier, long_tail, space="latent", cvae=cvae, steps=5, step_size=0.5)
    heads = long_tail.images[long_tail.labels == 0][:4]
    result = translator.translate(heads, torch.zeros(4, dtype=torch.long), torch.full((4,), 1))
    assert result.images.shape == heads.shape
    with torch.no_grad():
        z = cvae.encode(heads, torch.zeros(4, dtype=torch.long))[0]
    assert not torch.allclose(result.images, cvae.decode(z, torch.full((4,), 1)))  # the latent moved
    images = translator.sample(torch.tensor([1, 2]))
    assert images.shape == (2, 1, 8, 8)


def test_mix_tops_tail_classes_up_with_translations(classifier, long_tail):
    translator = HeadToTail(classifier, long_tail, steps=5, step_size=0.1)
    mixed = synthaug.mix(long_tail.as_dataset(), translator, {1: 8, 2: 8}, synthetic_share=0.5)
    assert mixed.synthetic_counts == [0, 8, 8]
    image, label = mixed[len(mixed) - 1]
    assert image.shape == (1, 8, 8) and int(label) == 2
    assert translator.requested[2] > 0


def test_bad_arguments_name_themselves(classifier, long_tail, generator_factory):
    with pytest.raises(TypeError, match="space='latent' needs cvae="):
        HeadToTail(classifier, long_tail, space="latent")
    with pytest.raises(ValueError, match="only used with space='latent'"):
        HeadToTail(classifier, long_tail, cvae=generator_factory("cvae"))
    with pytest.raises(ValueError, match="space must be one of"):
        HeadToTail(classifier, long_tail, space="fourier")
    with pytest.raises(ValueError, match="threshold must be"):
        HeadToTail(classifier, long_tail, threshold=1.5)
    with pytest.raises(TypeError, match="classifier must be a module or callable"):
        HeadToTail("net", long_tail)
    with pytest.raises(ValueError, match=r"sources must be in \[0, 2\]"):
        HeadToTail(classifier, long_tail).translate(long_tail.images[:1], torch.tensor([5]), torch.tensor([1]))
    np.testing.assert_array_equal(HeadToTail(classifier, long_tail).counts, COUNTS)
