"""mix(..., synthetic_weight=, soft_labels=): probability-vector targets that weight synthetic
items in the loss and carry a teacher's beliefs, through DataLoader workers and epochs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

import synthaug
from synthaug.data.targets import ProbabilityTargets
from tests.conftest import NUM_CLASSES, build_generator

WEIGHT = 0.3


class MeanTeacher(nn.Module):
    """A deterministic 'classifier': logits from the image's mean brightness (module-level: it pickles)."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        mean = images.mean(dim=(1, 2, 3), keepdim=False)
        return torch.stack([4 * mean, -4 * mean, torch.zeros_like(mean)], dim=1)


@pytest.fixture
def real(pattern_data):
    return pattern_data.as_dataset()


def _mixed(real, strategy="ratio", **options):
    gen = build_generator("cvae")
    defaults = {"ratio": 0.5} if strategy == "ratio" else {"p": 0.5}
    return synthaug.mix(real, gen, strategy, seed=0, progress=False, **{**defaults, **options})


def test_weight_alone_gives_one_hot_real_targets_and_weighted_one_hot_synthetic_targets(real):
    mixed = _mixed(real, synthetic_weight=WEIGHT)
    for index in (0, len(mixed) - 1):
        _, target = mixed[index]
        assert target.shape == (NUM_CLASSES,) and target.dtype == torch.float32
        expected = WEIGHT if mixed.is_synthetic(index) else 1.0
        assert target.max().item() == pytest.approx(expected) and target.sum().item() == pytest.approx(expected)
        # The hot entry is the item's label: labels are never silently changed.
        assert int(target.argmax()) == int(mixed.targets[index])


def test_soft_labels_are_the_teachers_softmax_of_the_generators_float_image_times_the_weight(real):
    teacher = MeanTeacher()
    mixed = _mixed(real, synthetic_weight=WEIGHT, soft_labels=teacher)
    index = len(mixed) - 1
    assert mixed.is_synthetic(index)
    image, target = mixed[index]
    assert target.sum().item() == pytest.approx(WEIGHT)
    expected = teacher(image.unsqueeze(0)).softmax(1)[0] * WEIGHT  # tensor items: the image is the float image
    torch.testing.assert_close(target, expected)
    # Real items stay one-hot: the teacher only speaks for synthetic ones.
    _, real_target = mixed[0]
    assert real_target.max().item() == 1.0


class CountingTeacher(MeanTeacher):
    """MeanTeacher that counts its calls and the images it saw."""

    def __init__(self) -> None:
        super().__init__()
        self.calls, self.images = 0, 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.images += len(images)
        return super().forward(images)


def test_the_teacher_sees_each_generated_chunk_once_and_fresh_epochs_get_fresh_soft_labels(real):
    teacher = CountingTeacher()
    mixed = _mixed(real, synthetic_weight=WEIGHT, soft_labels=teacher, chunk_size=4)
    synthetic = [i for i in range(len(mixed)) if mixed.is_synthetic(i)]
    first = {i: mixed[i] for i in reversed(synthetic)}  # any order: the chunk cache answers
    chunks = -(-len(synthetic) // 4)
    assert (teacher.calls, teacher.images) == (chunks, len(synthetic))
    for image, target in first.values():  # one batched call gives each item's own softmax
        torch.testing.assert_close(target, MeanTeacher()(image.unsqueeze(0)).softmax(1)[0] * WEIGHT)
    mixed.set_epoch(1)
    image, target = mixed[synthetic[0]]
    assert teacher.calls == chunks + 1
    assert not torch.equal(image, first[synthetic[0]][0])
    torch.testing.assert_close(target, MeanTeacher()(image.unsqueeze(0)).softmax(1)[0] * WEIGHT)


def test_a_filter_gives_its_classifier_as_teacher(real):
    screen = synthaug.filters.Filter(MeanTeacher(), min_confidence=0.0)
    mixed = _mixed(real, soft_labels=screen)
    image, target = mixed[len(mixed) - 1]
    torch.testing.assert_close(target, MeanTeacher()(image.unsqueeze(0)).softmax(1)[0])


def test_cross_entropy_on_the_targets_weights_synthetic_items(real):
    mixed = _mixed(real, synthetic_weight=WEIGHT)
    synthetic = [i for i in range(len(mixed)) if mixed.is_synthetic(i)][:4]
    real_items = [i for i in range(len(mixed)) if not mixed.is_synthetic(i)][:4]
    logits = torch.randn(4, NUM_CLASSES, generator=torch.Generator().manual_seed(0))
    for items, weight in ((synthetic, WEIGHT), (real_items, 1.0)):
        targets = torch.stack([mixed[i][1] for i in items])
        labels = torch.tensor([int(mixed.targets[i]) for i in items])
        torch.testing.assert_close(F.cross_entropy(logits, targets), weight * F.cross_entropy(logits, labels))


def test_replace_strategy_gives_vectors_too(real):
    mixed = _mixed(real, "replace", synthetic_weight=WEIGHT)
    sums = {round(mixed[i][1].sum().item(), 4) for i in range(len(mixed))}
    assert sums == {1.0, WEIGHT}
    assert len(mixed) == len(real)


@pytest.mark.parametrize("workers", [0, 2])
def test_vectors_collate_through_a_dataloader_and_epochs_bring_fresh_synthetic_items(real, workers):
    mixed = _mixed(real, synthetic_weight=WEIGHT, soft_labels=MeanTeacher())
    synthetic_index = len(mixed) - 1

    def epoch_batches():
        loader = DataLoader(mixed, batch_size=16, shuffle=False, num_workers=workers)
        return [(images, targets) for images, targets in loader]

    first = epoch_batches()
    assert all(targets.shape == (len(images), NUM_CLASSES) for images, targets in first)
    total = torch.cat([targets for _, targets in first]).sum().item()
    synthetic_count = sum(mixed.synthetic_counts)
    assert total == pytest.approx(len(mixed) - synthetic_count + WEIGHT * synthetic_count, rel=1e-5)
    again = epoch_batches()
    torch.testing.assert_close(first[-1][1], again[-1][1])  # same epoch: same items and targets
    before = mixed[synthetic_index][0]
    mixed.set_epoch(1)
    assert not torch.equal(before, mixed[synthetic_index][0])  # a fresh sample this epoch


def test_without_the_options_labels_stay_class_indices(real):
    _, target = _mixed(real)[0]
    assert isinstance(target, int)


@pytest.mark.parametrize(
    "weight, error, words",
    [
        (0.0, ValueError, "synthetic_weight"),
        (1.5, ValueError, "(0, 1]"),
        (float("nan"), ValueError, "synthetic_weight"),
        (True, TypeError, "synthetic_weight"),
        ("0.3", TypeError, "synthetic_weight"),
    ],
)
def test_a_bad_synthetic_weight_is_refused_with_its_name(real, weight, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace("]", r"\]")):
        _mixed(real, synthetic_weight=weight)


def test_a_teacher_that_is_not_a_classifier_is_refused(real):
    with pytest.raises(TypeError, match="soft_labels must be a classifier"):
        _mixed(real, soft_labels=3)


def test_a_teacher_with_the_wrong_number_of_classes_is_refused_when_it_is_asked(real):
    mixed = _mixed(real, soft_labels=nn.Sequential(nn.Flatten(), nn.LazyLinear(5)))
    with pytest.raises(ValueError, match=r"for \d+ images; expected \(\d+, 3\)"):
        mixed[len(mixed) - 1]


def test_the_guard_strategy_refuses_the_options_it_would_choose_itself(real):
    with pytest.raises(ValueError, match="chooses synthetic_weight"):
        synthaug.mix(real, build_generator("cvae"), "auto", synthetic_weight=WEIGHT, progress=False)


def test_probability_targets_describe_themselves():
    assert "weight 0.3" in ProbabilityTargets(3, 0.3).describe()
