"""The guard (synthaug.tune): it picks a mix only when validation shows it beats real only by
more than the noise, keeps real only otherwise (a harmful generator never gets in), is
deterministic for a seed, and refuses bad arguments before any training."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from conftest import NUM_CLASSES, make_pattern_data
from PIL import Image
from torch.utils.data import Dataset

import synthaug
from synthaug.data.real import LabelledImages
from synthaug.tuning import RECIPE_SETTING, TuneResult, TuneRow, default_grid, describe_setting, mix_call, tune

RATIOS = [{"strategy": "ratio", "ratio": r} for r in (0.1, 0.25, 0.5)]


class PatternGenerator:
    """Emits fresh pattern images (see conftest.make_pattern_data) of class ``(label + shift) % 3``.

    ``shift=0`` is a perfect generator; ``shift=1`` labels every image with the wrong class.
    """

    num_classes = NUM_CLASSES
    image_shape = (1, 8, 8)
    class_names = ["left", "right", "top"]

    def __init__(self, shift: int = 0):
        self.shift = shift

    def sample(self, labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        patterns = make_pattern_data(1, seed=seed)
        return patterns.images[(labels + self.shift) % NUM_CLASSES].clone()


class PILItems(Dataset):
    """PIL 'L' images and int labels, no ``targets``: the labels must be read item by item."""

    def __init__(self, data: LabelledImages):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        pixels = self.data.images[index, 0].mul(255).round().to(torch.uint8).numpy()
        return Image.fromarray(pixels, mode="L"), int(self.data.labels[index])


def real_items(per_class: int = 10, seed: int = 0, noise: float = 0.05):
    return make_pattern_data(per_class, seed=seed, noise=noise).as_dataset()


def synthetic_share(train) -> float:
    return sum(train.synthetic_counts) / len(train)


def test_good_generator_never_errors_and_returns_a_consistent_result():
    real = real_items(10)
    result = tune(real, PatternGenerator(0), steps=10, filter_steps=30, seeds=1, progress=False)
    assert isinstance(result, TuneResult)
    assert len(result.table) == 1 + len(default_grid())
    assert result.table[0].setting is None and result.table[0].n == 1
    assert result.metric == "accuracy" and result.split == (24, 6)
    assert isinstance(result.dataset, synthaug.MixedDataset) and result.dataset.real is real
    assert result.chose_real_only == (result.best is None)
    if result.best is None:
        assert sum(result.dataset.synthetic_counts) == 0
    else:
        assert result.best in [row.setting for row in result.table[1:]]
        assert sum(result.dataset.synthetic_counts) > 0
    assert result.summary().count("\n| ") == len(result.table) + 1  # header row + one per candidate


def test_harmful_generator_gets_real_only(caplog):
    real = real_items(10)
    with caplog.at_level(logging.WARNING, logger="synthaug.tuning"):
        result = tune(real, PatternGenerator(shift=1), steps=20, filter_steps=40, seeds=2, progress=False)
    assert result.chose_real_only and result.best is None
    assert sum(result.dataset.synthetic_counts) == 0 and len(result.dataset) == len(real)
    assert "keeping the real data only" in result.reason and "keeping the real data only" in caplog.text
    filtered = [row for row in result.table if row.setting and row.setting["filter"] is not None]
    assert filtered and all(row.n == 0 and "the filter accepted" in row.note for row in filtered)
    assert "skipped" in result.summary() and "baseline (chosen)" in result.summary()


def test_deterministic_for_a_seed():
    real = real_items(8, noise=0.6)  # noisy enough that scores are not all 100%
    kwargs = dict(grid=[{"strategy": "ratio", "ratio": 0.5}], steps=8, seeds=2, progress=False)
    first = tune(real, PatternGenerator(0), **kwargs)
    second = tune(real, PatternGenerator(0), **kwargs)
    assert [row.scores for row in first.table] == [row.scores for row in second.table]
    assert first.best == second.best


def test_picks_the_best_setting_when_it_clearly_wins():
    real = real_items(10)

    def more_synthetic_is_better(train, val):
        return 0.8 + 0.1 * synthetic_share(train)

    result = tune(
        real, PatternGenerator(0), more_synthetic_is_better, grid=RATIOS, seeds=2, val_noise=False, progress=False
    )
    assert not result.chose_real_only
    assert result.best == {"strategy": "ratio", "ratio": 0.5, "filter": None}
    assert result.metric == "score" and [row.n for row in result.table] == [2, 2, 2, 2]
    assert result.dataset.real is real and sum(result.dataset.synthetic_counts) == 15
    assert "| ratio=0.5, no filter |" in result.summary() and "| chosen |" in result.summary()


@pytest.mark.parametrize("gain, min_gain, chooses", [(0.004, 0.005, False), (0.004, 0.001, True), (-0.1, 0.0, False)])
def test_min_gain_is_the_margin(gain, min_gain, chooses):
    def scores(train, val):
        return 0.9 + (gain if sum(train.synthetic_counts) else 0.0)

    result = tune(
        real_items(6),
        PatternGenerator(0),
        scores,
        grid=RATIOS[:1],
        seeds=1,
        min_gain=min_gain,
        val_noise=False,
        progress=False,
    )
    assert result.chose_real_only is not chooses


def test_gain_within_the_seed_noise_keeps_real_only():
    noise = {0: 0.0, 1: 0.1, 2: 0.05}  # per run seed: std 0.05

    def noisy(train, val):
        return 0.8 + noise[train.seed] + (0.04 if sum(train.synthetic_counts) else 0.0)

    result = tune(real_items(6), PatternGenerator(0), noisy, grid=RATIOS[:1], seeds=3, val_noise=False, progress=False)
    assert result.chose_real_only
    assert result.table[1].mean - result.table[0].mean == pytest.approx(0.04)
    assert result.table[0].std == pytest.approx(0.05)
    clear = tune(
        real_items(6),
        PatternGenerator(0),
        lambda t, v: noisy(t, v) + 0.02 * bool(sum(t.synthetic_counts)),
        grid=RATIOS[:1],
        seeds=3,
        val_noise=False,
        progress=False,
    )
    assert not clear.chose_real_only  # +0.06 > one std


@pytest.mark.parametrize("per_class, chooses", [(10, False), (400, True)])
def test_a_gain_inside_the_validation_sampling_error_keeps_real_only(per_class, chooses):
    # The same +0.04 accuracy gain: on 6 validation items (standard error 0.16) it is not
    # evidence; on 240 (0.026) it is.
    def scores(train, val):
        return 0.8 + (0.04 if sum(train.synthetic_counts) else 0.0)

    result = tune(real_items(per_class), PatternGenerator(0), scores, grid=RATIOS[:1], seeds=1, progress=False)
    n_val = result.split[1]
    assert result.val_se == pytest.approx((0.8 * 0.2 / n_val) ** 0.5)
    assert result.chose_real_only is not chooses
    assert f"validation standard error={result.val_se:.4g}" in result.summary()
    # A score that is not a rate gets no binomial error.
    loose = tune(
        real_items(per_class),
        PatternGenerator(0),
        lambda t, v: 10 * scores(t, v),
        grid=RATIOS[:1],
        seeds=1,
        progress=False,
    )
    assert loose.val_se == 0.0 and not loose.chose_real_only


def test_train_fn_gets_the_training_part_mixed_and_the_validation_part():
    real = real_items(10)
    calls = []

    def record(train, val):
        calls.append((train, val, train.seed, synthetic_share(train)))
        return 0.5

    result = tune(real, PatternGenerator(0), record, grid=RATIOS[1:], seeds=2, val_fraction=0.3, progress=False)
    assert len(calls) == (1 + 2) * 2 and [row.n for row in result.table] == [2, 2, 2]
    assert [seed for _, _, seed, _ in calls] == [0, 1] * 3
    assert [share for *_, share in calls][:2] == [0, 0] and all(s > 0 for *_, s in calls[2:])
    val = calls[0][1]
    assert all(v is val for _, v, _, _ in calls)
    assert len(val) == 9 and sorted(int(val[i][1]) for i in range(len(val))) == [0] * 3 + [1] * 3 + [2] * 3
    train = calls[0][0]
    assert isinstance(train, synthaug.MixedDataset) and len(train) == 21
    # The training and validation parts split the real items: together they are all of them, once.
    seen = sorted(
        tuple(item[0].flatten().tolist()) for part in (train, val) for item in (part[i] for i in range(len(part)))
    )
    assert seen == sorted(tuple(real[i][0].flatten().tolist()) for i in range(len(real)))
    assert sum(calls[2][0].synthetic_counts) == round(0.25 * 21)


def test_imbalanced_pil_data_uses_balanced_accuracy_and_tries_balance():
    data = make_pattern_data(12, seed=0)
    keep = torch.cat([torch.arange(0, 12), torch.arange(12, 16), torch.arange(24, 28)])  # 12 / 4 / 4
    real = PILItems(LabelledImages(data.images[keep], data.labels[keep]))
    result = tune(
        real, PatternGenerator(0), steps=5, filter_steps=5, seeds=1, progress=False, grid=[{"strategy": "balance"}]
    )
    assert result.metric == "balanced_accuracy"
    assert [row.label for row in result.table] == ["real only", "balance, no filter"]
    assert "balance" in {s["strategy"] for s in default_grid(imbalanced=True)}
    image, _ = result.dataset[len(result.dataset) - 1]
    assert isinstance(image, Image.Image)  # the returned dataset keeps the real items' form


def test_mix_auto_is_tune_dataset(monkeypatch):
    import synthaug.tuning as tune_module

    real = real_items(6)
    calls = []

    def quick_tune(real_, model, **kwargs):
        calls.append(kwargs)
        return tune(
            real_,
            model,
            lambda t, v: 0.8 + 0.1 * synthetic_share(t),
            grid=RATIOS[:1],
            seeds=1,
            val_noise=False,
            **kwargs,
        )

    monkeypatch.setattr(tune_module, "tune", quick_tune)
    mixed = synthaug.mix(real, PatternGenerator(0), "auto", seed=3, progress=False, transform=torch.neg)
    assert calls and calls[0]["seed"] == 3
    assert isinstance(mixed, synthaug.MixedDataset) and sum(mixed.synthetic_counts) == round(0.1 * 18)
    assert float(mixed[0][0].max()) <= 0  # the transform reaches the returned dataset
    with pytest.raises(ValueError, match="chooses ratio"):
        synthaug.mix(real, PatternGenerator(0), "auto", ratio=0.1)


def never_called(train, val):
    pytest.fail("train_fn was called although the arguments are bad")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(val_fraction=0.0), ValueError, "val_fraction"),
        (dict(val_fraction=1.0), ValueError, "val_fraction"),
        (dict(val_fraction=-0.2), ValueError, "val_fraction"),
        (dict(val_fraction="0.2"), ValueError, "val_fraction"),
        (dict(grid=[]), ValueError, "grid is empty"),
        (dict(grid={"strategy": "ratio"}), TypeError, "list of settings"),
        (dict(grid=[("ratio", 0.1)]), TypeError, r"grid\[0\]"),
        (dict(grid=[{"ratio": 0.1}]), ValueError, "'strategy' .required"),
        (dict(grid=[{"strategy": "ratio", "ratio": 0.1, "alpha": 1}]), ValueError, "unknown"),
        (dict(grid=[{"strategy": "ratio", "ratio": 0.1, "filter": 1.5}]), ValueError, "min_confidence"),
        (dict(grid=[{"strategy": "auto"}]), ValueError, "cannot be tuned"),
        (dict(grid=[{"strategy": "ratio", "ratio": -1}]), ValueError, r"grid\[0\].*ratio must be"),
        (dict(grid=[{"strategy": "replace"}]), ValueError, r"grid\[0\].*needs p"),
        (dict(seeds=0), ValueError, "seeds"),
        (dict(min_gain=-0.1), ValueError, "min_gain"),
        (dict(val_noise="yes"), TypeError, "val_noise"),
        (dict(metric="accuracy"), ValueError, "train_fn returns its own score"),
    ],
)
def test_bad_arguments_fail_before_training(kwargs, error, match):
    with pytest.raises(error, match=match):
        tune(real_items(4), PatternGenerator(0), never_called, progress=False, **kwargs)


def test_bad_metric_train_fn_and_generator():
    real = real_items(4)
    with pytest.raises(ValueError, match="metric must be one of"):
        tune(real, PatternGenerator(0), metric="f1", progress=False)
    with pytest.raises(TypeError, match="train_fn must be a callable"):
        tune(real, PatternGenerator(0), train_fn=0.9, progress=False)
    with pytest.raises(TypeError, match="GeneratorProtocol"):
        tune(real, object(), never_called, progress=False)
    with pytest.raises(ValueError, match="empty"):
        tune(make_pattern_data(0).as_dataset(), PatternGenerator(0), never_called, progress=False)


@pytest.mark.parametrize("score, error", [("high", TypeError), (None, TypeError), (float("nan"), ValueError)])
def test_train_fn_must_return_a_number(score, error):
    with pytest.raises(error, match="train_fn"):
        tune(real_items(4), PatternGenerator(0), lambda train, val: score, grid=RATIOS[:1], progress=False)


def test_split_is_stratified_and_seeded():
    from synthaug.tuning import _split_indices

    labels = np.repeat([0, 1, 2], [10, 5, 1])
    train, val = _split_indices(labels, 0.2, seed=0)
    assert np.bincount(labels[val], minlength=3).tolist() == [2, 1, 0]  # a single item stays in training
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(16))
    assert np.array_equal(_split_indices(labels, 0.2, seed=0)[1], val)
    assert not all(np.array_equal(_split_indices(labels, 0.2, seed=s)[1], val) for s in range(1, 4))


def test_the_default_grid_ends_with_the_recipe_and_labels_it():
    assert default_grid()[-1] == RECIPE_SETTING and default_grid(imbalanced=True)[-1] == RECIPE_SETTING
    assert describe_setting(RECIPE_SETTING) == "ratio=1, no filter, weight=0.3, soft labels"


def test_the_recipe_setting_is_chosen_when_it_wins_and_its_dataset_carries_weighted_soft_targets():
    real = real_items(10)
    seen = []

    def train_fn(train_dataset, val_dataset) -> float:
        vectors = train_dataset.probability_targets is not None
        seen.append(vectors)
        return 0.9 if vectors else 0.5

    result = tune(
        real,
        PatternGenerator(0),
        train_fn,
        grid=[RECIPE_SETTING],
        seeds=2,
        filter_steps=10,
        val_noise=False,
        progress=False,
    )
    assert seen == [False, False, True, True]
    assert result.best == RECIPE_SETTING
    mixed = result.dataset
    assert mixed.real is real and sum(mixed.synthetic_counts) == len(real)  # ratio 1 on all the real data
    _, target = mixed[len(mixed) - 1]
    assert target.shape == (3,) and target.sum().item() == pytest.approx(0.3)  # soft labels at weight 0.3
    assert mixed.probability_targets.teacher is not None


def test_the_default_classifier_trains_on_the_recipe_fresh_each_pass():
    result = tune(
        real_items(8), PatternGenerator(0), grid=[RECIPE_SETTING], steps=12, filter_steps=5, seeds=1, progress=False
    )
    assert result.table[1].n == 1 and 0 <= result.table[1].mean <= 1


@pytest.mark.parametrize(
    "setting, error, words",
    [
        ({"strategy": "ratio", "ratio": 1.0, "synthetic_weight": 2.0}, ValueError, "grid\\[0\\]: synthetic_weight"),
        ({"strategy": "ratio", "ratio": 1.0, "soft_labels": "yes"}, TypeError, "grid\\[0\\]: soft_labels"),
    ],
)
def test_bad_recipe_settings_are_refused_before_training(setting, error, words):
    with pytest.raises(error, match=words):
        tune(real_items(6), PatternGenerator(0), grid=[setting], steps=5, progress=False)


def test_the_model_is_model_and_generator_is_a_torch_generator():
    real = real_items(6)

    def score(train, val):
        return 0.5

    options = dict(grid=RATIOS[:1], seeds=1, progress=False)
    by_name = tune(real, model=PatternGenerator(0), train_fn=score, **options)
    with pytest.warns(DeprecationWarning, match=r"tune\(generator=<model>\) is deprecated.*model="):
        old = tune(real, generator=PatternGenerator(0), train_fn=score, **options)
    assert old.best == by_name.best and old.split == by_name.split
    # generator= otherwise means randomness: the seed is drawn from it once, reproducibly.
    drawn = [
        tune(real, PatternGenerator(0), score, generator=torch.Generator().manual_seed(5), **options).dataset.seed
        for _ in range(2)
    ]
    assert drawn[0] == drawn[1] and drawn[0] != 0
    with pytest.raises(ValueError, match="give seed or generator, not both"):
        tune(real, PatternGenerator(0), score, seed=1, generator=torch.Generator(), **options)
    with pytest.raises(TypeError, match="got the model twice"):
        tune(real, PatternGenerator(0), score, generator=PatternGenerator(0), **options)
    with pytest.raises(TypeError, match="model: the generator must satisfy synthaug.GeneratorProtocol"):
        tune(real, train_fn=score, **options)


def test_mix_call_spells_out_a_setting():
    assert mix_call(None) == "real"
    assert mix_call({"strategy": "ratio", "ratio": 0.25, "filter": None}) == "mix(real, model, 'ratio', ratio=0.25)"
    assert mix_call({"strategy": "balance", "filter": 0.9}) == (
        "mix(real, model, 'balance', filter=Filter(teacher, min_confidence=0.9))"
    )
    assert mix_call(RECIPE_SETTING) == "mix(real, model, 'ratio', ratio=1, synthetic_weight=0.3, soft_labels=teacher)"
    assert mix_call({"strategy": synthetic_share, "filter": None}) == "mix(real, model, synthetic_share)"


def hand_made_result(scores: list[float | None], best: int | None, metric: str = "accuracy") -> TuneResult:
    """A TuneResult over RATIOS whose rows have the given means (None: a skipped row)."""
    rows = [
        TuneRow(
            setting,
            float("nan") if mean is None else mean,
            float("nan"),
            0 if mean is None else 1,
            () if mean is None else (mean,),
            note="the filter accepted 0 of 9 draws" if mean is None else "",
        )
        for setting, mean in zip([None, *[{**r, "filter": None} for r in RATIOS]], scores)
    ]
    chosen = None if best is None else rows[best].setting
    return TuneResult(chosen, rows, None, chosen is None, metric, "why", split=(24, 6))  # type: ignore[arg-type]


def test_the_verdict_says_whether_to_mix_and_how_in_one_line():
    mixed = hand_made_result([0.80, 0.812, 0.79, None], best=1)
    assert mixed.verdict() == (
        "mix — mix(real, model, 'ratio', ratio=0.1) beat real only by +1.20 points of validation accuracy"
    )
    kept = hand_made_result([0.80, 0.803, 0.79, None], best=None)
    assert kept.verdict() == (
        "keep real only — no setting beat real only beyond the noise "
        "(best: ratio=0.1, no filter, +0.30 points of validation accuracy)"
    )
    skipped = hand_made_result([0.80, None, None, None], best=None)
    assert skipped.verdict().startswith("keep real only — every mixed setting was skipped")
    score = hand_made_result([2.0, 2.5, 1.0, None], best=1, metric="score")
    assert score.verdict().endswith("beat real only by +0.5 in validation score")
    assert all("\n" not in r.verdict() for r in (mixed, kept, skipped, score))


def test_the_evidence_as_json_markdown_and_a_chart(tmp_path):
    import json

    result = hand_made_result([0.80, 0.812, 0.79, None], best=1)
    data = result.to_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data  # strict JSON: NaN became None
    assert data["verdict"] == result.verdict() and data["best"] == {"strategy": "ratio", "ratio": 0.1, "filter": None}
    assert data["split"] == {"train": 24, "validation": 6}
    assert [row["verdict"] for row in data["rows"]] == [
        "baseline",
        "chosen",
        "worse",
        "skipped: the filter accepted 0 of 9 draws",
    ]
    assert data["rows"][1]["gain"] == pytest.approx(0.012) and data["rows"][0]["gain"] is None
    assert data["rows"][3]["mean"] is None and data["rows"][1]["mix"] == "mix(real, model, 'ratio', ratio=0.1)"
    page = result.to_markdown("My title", figure="tune.png")
    assert page.startswith("# My title\n\n**Verdict:** mix — ") and page.endswith(result.summary() + "\n")
    assert "![validation accuracy per setting](tune.png)" in page and "teacher" not in page
    path = result.save_chart(tmp_path / "tune.png")
    assert path == tmp_path / "tune.png" and path.read_bytes()[:4] == b"\x89PNG"


SHARED = {"strategy": "balance", "synthetic_share": 0.5}


def imbalanced_items():
    data = make_pattern_data(12, seed=2)
    keep = torch.cat([torch.nonzero(data.labels == c).flatten()[:n] for c, n in enumerate((12, 6, 3))])
    return LabelledImages(data.images[keep], data.labels[keep]).as_dataset()


def test_a_synthetic_share_setting_reaches_train_fn_and_the_chosen_dataset():
    seen = []

    def score(train, val):
        seen.append(train.synthetic_share)
        return 0.9 if train.synthetic_share is not None else 0.5

    result = tune(
        imbalanced_items(), PatternGenerator(0), score, grid=[SHARED], seeds=1, val_noise=False, progress=False
    )
    assert seen == [None, 0.5]
    assert result.best["synthetic_share"] == 0.5 and result.dataset.synthetic_share == 0.5
    assert describe_setting(SHARED).endswith(", synthetic share 0.5")
    assert mix_call({**SHARED, "filter": None}) == "mix(real, model, 'balance', synthetic_share=0.5)"


def test_the_default_classifier_draws_a_shared_setting_through_its_sampler(monkeypatch):
    from synthaug.data import samplers

    made = []
    original = samplers.ProportionSampler.__init__

    def spy(self, *args, **kwargs):
        made.append(kwargs.get("synthetic_share"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(samplers.ProportionSampler, "__init__", spy)
    result = tune(imbalanced_items(), PatternGenerator(0), grid=[SHARED], steps=6, seeds=1, progress=False)
    assert made and made[0] == 0.5 and result.table[1].n == 1


def test_a_share_outside_0_1_in_the_grid_is_refused():
    with pytest.raises(ValueError, match=r"grid\[0\]: synthetic_share"):
        tune(real_items(6), PatternGenerator(0), grid=[{**SHARED, "synthetic_share": 2}], steps=5, progress=False)
