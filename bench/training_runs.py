"""One classifier run of the downstream benchmark: data, augmentation, the shared training loop, scoring.

bench/downstream.py (fixed budgets), bench/fair_budget.py (budgets chosen on validation)
and bench/semi_supervised.py (the unlabelled-pool protocol) all train the same SmallCNN
through :func:`fit`, so rows of every table differ only by their data and recipe.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import albumentations as A
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import balanced_accuracy_score, recall_score
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

import synthaug
from synthaug.data.real import LabelledImages
from synthaug.metrics.classifier import SmallCNN
from synthaug.utils.seeding import seeded


def per_class_indices(labels: torch.Tensor, per_class: int, seed: int) -> torch.Tensor:
    """Sorted indices of ``per_class`` items of each class, drawn without replacement (seeded)."""
    rng = np.random.default_rng(seed)
    keep = [
        rng.choice(np.flatnonzero(labels.numpy() == c), size=per_class, replace=False)
        for c in range(int(labels.max()) + 1)
    ]
    return torch.from_numpy(np.sort(np.concatenate(keep)))


def per_class_subset(data: LabelledImages, per_class: int, seed: int) -> LabelledImages:
    index = per_class_indices(data.labels, per_class, seed)
    return LabelledImages(data.images[index], data.labels[index])


class Items(Dataset):
    """``(image tensor, label, loss weight)`` from any synthaug dataset of tensor items, optionally augmented."""

    def __init__(self, dataset: Dataset, augment: A.BasicTransform | None, synthetic_weight: float = 1.0):
        self.dataset = dataset
        self.augment = augment
        self.synthetic_weight = synthetic_weight

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        image, label = self.dataset[index]
        if self.augment is not None:
            hwc = image.permute(1, 2, 0).numpy()
            image = torch.from_numpy(self.augment(image=hwc)["image"]).permute(2, 0, 1).contiguous()
        is_synthetic = getattr(self.dataset, "is_synthetic", None)
        synthetic = bool(is_synthetic is not None and is_synthetic(index))
        # A probability-vector target (mix(..., synthetic_weight=, soft_labels=)) passes as is.
        target = label if isinstance(label, torch.Tensor) and label.ndim == 1 else int(label)
        return image, target, float(self.synthetic_weight if synthetic else 1.0), synthetic


class Varied(Dataset):
    """Real items passed through ``synthaug.transforms.VAEVariation`` (a cVAE's nearby image, same label)."""

    def __init__(self, dataset: Dataset, vary: Callable):
        self.dataset, self.vary = dataset, vary

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        return self.vary(*self.dataset[index])


def classic_augmentation(seed: int) -> A.Compose:
    """Flips, small shifts/rotations/scales and erasing: the usual Fashion-MNIST recipe."""
    return A.Compose(
        seed=seed,
        transforms=[
            A.HorizontalFlip(p=0.5),
            A.Affine(translate_percent=(-0.1, 0.1), scale=(0.9, 1.1), rotate=(-10, 10), p=0.7),
            A.CoarseDropout(num_holes_range=(1, 1), hole_height_range=(0.1, 0.3), hole_width_range=(0.1, 0.3), p=0.5),
        ],
    )


# ----------------------------------------------------------------------------- one classifier run
@dataclass
class Recipe:
    """How one row builds its training data and trains (everything else is shared)."""

    name: str
    build: Callable[[int], Dataset]  # seed -> dataset of tensor (image, label) items
    augment: bool = False
    mixup: bool = False
    balanced_sampler: bool = False
    class_weighted_loss: bool = False
    synthetic_weight: float = 1.0
    fresh_each_pass: bool = False
    notes: str = ""
    # Levers on top of the data (shares of the step budget; 0 is off):
    synthetic_from: float = 0.0  # train on the real items only until this share, then on the mix
    finetune_last_layer: float = 0.0  # the last share of steps: only the final layer, on real items
    # Long-tail levers (docs/benchmarks.md, "longtail"):
    synthetic_share: float | None = None  # draw batches with dataset.sampler(): this share of each class synthetic
    plain_early: bool = False  # with synthetic_from: the early phase samples real items at their natural frequency
    loss: str = "ce"  # "ce", "logit_adjusted" (synthaug.losses, tau 1) or "drw" (re-weighting from 80% of the steps)
    posthoc_adjust: bool = False  # predict with synthaug.losses.posthoc_logit_adjustment (tau 1)
    extra: dict[str, Any] = field(default_factory=dict)


def _loader(
    items: Dataset,
    labels: np.ndarray,
    counts: np.ndarray,
    balanced: bool,
    steps: int,
    batch_size: int,
    rng,
    sampler: Any = None,
) -> DataLoader:
    if sampler is not None:
        return DataLoader(items, batch_size=batch_size, sampler=sampler)
    if balanced:
        weights = torch.from_numpy(1.0 / counts[labels]).double()
        sampler = WeightedRandomSampler(weights, num_samples=steps * batch_size, generator=rng)
        return DataLoader(items, batch_size=batch_size, generator=rng, sampler=sampler)
    return DataLoader(items, batch_size=batch_size, shuffle=True, drop_last=len(items) > batch_size, generator=rng)


def _train_steps(
    model: SmallCNN,
    parameters: list[torch.nn.Parameter],
    steps: int,
    next_batch: Callable[[int], tuple],
    recipe: Recipe,
    criterion: Callable[[int], Callable[..., torch.Tensor]],
    rng: torch.Generator,
    mix_rng: np.random.Generator,
    first_step: int = 0,
) -> None:
    """``steps`` Adam steps (lr 1e-3, cosine decay to zero) on ``parameters``; ``next_batch(step)`` gives each batch.

    ``criterion(step)`` is the per-item loss ``(logits, targets) -> [B]`` of that step.
    """
    optimizer = torch.optim.Adam(parameters, lr=1e-3)
    # Cosine decay to zero: the last iterate is a converged model, not a point on a noisy
    # trajectory, so rows differ by their data rather than by where training stopped.
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps, 1))
    teacher = recipe.extra.get("teacher")
    for step in range(first_step, first_step + steps):
        images, targets, weights, synthetic = next_batch(step)
        loss_of = criterion(step)
        if recipe.mixup:
            lam = float(mix_rng.beta(0.2, 0.2))
            perm = torch.randperm(len(images), generator=rng)
            images = lam * images + (1 - lam) * images[perm]
            out = model(images)
            loss = lam * loss_of(out, targets) + (1 - lam) * loss_of(out, targets[perm])
        else:
            out = model(images)
            loss = loss_of(out, targets)
            if teacher is not None and bool(synthetic.any()):
                # Soft labels: synthetic items learn the real-trained teacher's belief
                # about what they show, not the label they were drawn for.
                with torch.no_grad():
                    soft = teacher(images[synthetic]).softmax(1)
                loss[synthetic] = -(soft * out[synthetic].log_softmax(1)).sum(1)
        loss = (loss * weights.float()).sum() / weights.float().sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()


def fit(
    recipe: Recipe, dataset: Dataset, seed: int, steps: int, batch_size: int, k: int, image_shape: tuple[int, int, int]
) -> SmallCNN:
    """Train the shared SmallCNN on ``dataset`` the recipe's way for exactly ``steps`` Adam steps.

    With ``recipe.fresh_each_pass`` the dataset's ``set_epoch(pass)`` is called before each
    pass, as a user's loop does for fresh synthetic samples. ``recipe.synthetic_from``:
    the first share of the steps reads only ``dataset.real`` (the mix's real items).
    ``recipe.finetune_last_layer``: the main phase ends that share of the steps early
    (its cosine schedule over the shorter span), then only the final linear layer trains,
    with batch-norm statistics frozen, on the real items, on a fresh cosine schedule.
    """
    augment = classic_augmentation(seed) if recipe.augment else None
    rng = torch.Generator().manual_seed(seed)
    mix_rng = np.random.default_rng(seed)

    def stream(data: Dataset, start_pass: int = 0, balanced: bool = recipe.balanced_sampler):
        """Batches of ``data`` forever, one pass after another (fresh synthetic items each pass)."""
        items = Items(data, augment, recipe.synthetic_weight)
        labels = np.asarray(synthaug.data.read_labels(data, progress=False))
        counts = np.bincount(labels, minlength=k)
        sampler = None
        share = recipe.synthetic_share if recipe.synthetic_share is not None else getattr(data, "synthetic_share", None)
        if share is not None and hasattr(data, "sampler"):
            # The user's line: DataLoader(train, sampler=train.sampler()) (a ProportionSampler);
            # a mix made with synthetic_share= (the guard's choice) asks for it too.
            sampler = data.sampler(steps * batch_size, synthetic_share=share, seed=seed)
        loader = _loader(items, labels, counts, balanced, steps, batch_size, rng, sampler)
        passes = start_pass
        while True:
            if recipe.fresh_each_pass and hasattr(data, "set_epoch"):
                data.set_epoch(passes)
            yield from loader
            passes += 1

    labels = np.asarray(synthaug.data.read_labels(dataset, progress=False))
    counts = np.bincount(labels, minlength=k)
    real_part = getattr(dataset, "real", dataset)
    real_counts = np.bincount(np.asarray(synthaug.data.read_labels(real_part, progress=False)), minlength=k)
    with seeded(seed):
        model = SmallCNN(k, image_shape[0], image_shape[1])
    finetune_steps = round(steps * recipe.finetune_last_layer)
    main_steps = steps - finetune_steps
    switch = round(main_steps * recipe.synthetic_from)
    early = stream(real_part, balanced=recipe.balanced_sampler and not recipe.plain_early) if switch else None
    mixed = stream(dataset)
    criterion = _criterion(recipe, counts, real_counts, k, switch, main_steps)

    def next_main(step: int) -> tuple:
        return next(early if early is not None and step < switch else mixed)

    model.train()
    _train_steps(model, list(model.parameters()), main_steps, next_main, recipe, criterion, rng, mix_rng)
    if finetune_steps:
        last = model.head[-1]
        for parameter in model.parameters():
            parameter.requires_grad_(parameter is last.weight or parameter is last.bias)
        model.eval()  # batch-norm statistics stay those of the main phase
        tail = stream(real_part)
        _train_steps(
            model, list(last.parameters()), finetune_steps, lambda step: next(tail), recipe, criterion, rng, mix_rng
        )
        for parameter in model.parameters():
            parameter.requires_grad_(True)
    if recipe.posthoc_adjust:
        model = PosthocAdjusted(model, real_counts)
    return model.eval()


def _criterion(
    recipe: Recipe, counts: np.ndarray, real_counts: np.ndarray, k: int, switch: int, steps: int
) -> Callable[[int], Callable[..., torch.Tensor]]:
    """The per-item loss of each step, built from synthaug.losses as a user's loop would."""
    if recipe.loss == "logit_adjusted":
        # The prior is that of the batches' sampling: the real counts while sampling
        # naturally, uniform (no adjustment) once batches are class-balanced.
        natural = synthaug.losses.LogitAdjustedLoss(real_counts, reduction="none")
        if not (recipe.balanced_sampler or recipe.synthetic_share is not None):
            return lambda step: natural
        if not (switch and recipe.plain_early):
            raise ValueError(f"{recipe.name}: the logit-adjusted loss under balanced sampling is plain cross-entropy")

        def plain(out: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(out, targets, reduction="none")

        return lambda step: natural if step < switch else plain
    if recipe.loss == "drw":
        drw = synthaug.losses.DeferredReweighting(real_counts, start_step=round(0.8 * steps), reduction="none")

        def at(step: int):
            drw.set_step(step)
            return drw

        return at
    if recipe.loss != "ce":
        raise ValueError(f"{recipe.name}: loss must be 'ce', 'logit_adjusted' or 'drw', got {recipe.loss!r}")
    weight = (
        torch.tensor(counts.sum() / (k * np.maximum(counts, 1)), dtype=torch.float32)
        if recipe.class_weighted_loss
        else None
    )
    return lambda step: lambda out, targets: F.cross_entropy(out, targets, weight=weight, reduction="none")


class PosthocAdjusted(torch.nn.Module):
    """A trained classifier whose logits are corrected by ``synthaug.losses.posthoc_logit_adjustment``."""

    def __init__(self, model: torch.nn.Module, counts: np.ndarray) -> None:
        super().__init__()
        self.model, self.counts = model, counts

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return synthaug.losses.posthoc_logit_adjustment(self.model(images), self.counts)


def predict(model: SmallCNN, images: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([model(images[i : i + 1000]).argmax(1) for i in range(0, len(images), 1000)]).numpy()


def train_and_score(
    recipe: Recipe,
    seed: int,
    steps: int,
    batch_size: int,
    test: LabelledImages,
    k: int,
    image_shape: tuple[int, int, int],
) -> dict[str, Any]:
    start = time.perf_counter()
    dataset = recipe.build(seed)
    predicted = predict(fit(recipe, dataset, seed, steps, batch_size, k, image_shape), test.images)
    truth = test.labels.numpy()
    recalls = recall_score(truth, predicted, average=None, labels=list(range(k)), zero_division=0)
    return {
        "row": recipe.name,
        "seed": seed,
        "accuracy": float((predicted == truth).mean()),
        "balanced_accuracy": float(balanced_accuracy_score(truth, predicted)),
        "worst_class_recall": float(recalls.min()),
        "per_class_recall": [round(float(r), 4) for r in recalls],
        "train_items": len(dataset),
        "seconds": round(time.perf_counter() - start, 1),
        "notes": recipe.notes,
    }


def slug(name: str) -> str:
    """A row name as a file name."""
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")


def recipe_mix(
    base: Callable[[int], Dataset], gen: Any, ratio: float, teacher: Any, weight: float
) -> Callable[[int], Dataset]:
    """A row's builder for synthaug's recipe: ``mix(base(seed), gen, "ratio", ratio=, synthetic_weight=, soft_labels=teacher)``.

    The user's one line (docs/benchmarks.md); the row sets ``fresh_each_pass`` so the
    training loop calls ``set_epoch`` each pass, as the ``mix`` docstring tells users to.
    """

    def build(seed: int) -> Dataset:
        return synthaug.mix(
            base(seed),
            gen,
            "ratio",
            seed=seed,
            ratio=ratio,
            synthetic_weight=weight,
            soft_labels=teacher,
            progress=False,
        )

    return build


def wait_while_paused() -> None:
    """Between runs, wait while the file named by $BENCH_PAUSE_FILE exists.

    So the test suite can run on an otherwise idle machine in the middle of a long
    benchmark without a run in progress timing both (touch the file, wait for the current
    run to end, test, remove the file).
    """
    pause = os.environ.get("BENCH_PAUSE_FILE")
    announced = False
    while pause and os.path.exists(pause):
        if not announced:
            print(f"paused while {pause} exists", flush=True)
            announced = True
        time.sleep(5)
