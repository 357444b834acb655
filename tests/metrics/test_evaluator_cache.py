"""The evaluator classifier is trained once per (data, settings) and read back from a safetensors cache."""

from __future__ import annotations

import json
import logging

import pytest
import torch

import synthaug.metrics.evaluator_cache as evaluator_cache
from synthaug.data.real import LabelledImages
from synthaug.metrics.evaluator_cache import CACHE_ENV, cache_root, evaluator_classifier, evaluator_key

STEPS = 3


@pytest.fixture
def trainings(monkeypatch) -> list[int]:
    """Count calls of train_classifier_on made by the cache (the list grows by one per training)."""
    calls: list[int] = []
    real_train = evaluator_cache.train_classifier_on

    def counting(*args, **kwargs):
        calls.append(kwargs["steps"])
        return real_train(*args, **kwargs)

    monkeypatch.setattr(evaluator_cache, "train_classifier_on", counting)
    return calls


@pytest.fixture(scope="module")
def data(pattern_factory) -> LabelledImages:
    return pattern_factory(8, seed=3)


def build(data, cache_dir, **kwargs):
    return evaluator_classifier(
        data, 3, steps=kwargs.pop("steps", STEPS), cache_dir=cache_dir, progress=False, **kwargs
    )


def test_second_call_loads_instead_of_training(data, tmp_path, trainings):
    first = build(data, tmp_path)
    assert not first.from_cache and trainings == [STEPS]
    assert first.path == tmp_path / "evaluators" / f"{first.key}.safetensors" and first.path.is_file()
    settings = json.loads(first.path.with_suffix(".json").read_text())
    assert settings["key"] == first.key and settings["steps"] == STEPS and settings["num_train"] == len(data)

    second = build(data, tmp_path)
    assert second.from_cache and trainings == [STEPS]  # not retrained
    assert second.key == first.key
    images = data.images[:5]
    assert torch.equal(second.classifier(images), first.classifier(images))
    for a, b in zip(first.classifier.state_dict().values(), second.classifier.state_dict().values()):
        assert torch.equal(a, b)
    assert not second.classifier.training


def test_the_key_follows_the_data_content_and_settings(data, tmp_path, trainings):
    base = build(data, tmp_path)
    same_content = LabelledImages(data.images.clone(), data.labels.clone())
    assert build(same_content, tmp_path).from_cache and len(trainings) == 1

    changed = data.images.clone()
    changed[0, 0, 0, 0] += 0.01  # one pixel
    other = build(LabelledImages(changed, data.labels), tmp_path)
    relabelled = build(LabelledImages(data.images, data.labels.roll(1)), tmp_path)
    more_steps = build(data, tmp_path, steps=STEPS + 1)
    other_seed = build(data, tmp_path, seed=1)
    keys = {base.key, other.key, relabelled.key, more_steps.key, other_seed.key}
    assert len(keys) == 5 and len(trainings) == 5
    assert not any(e.from_cache for e in (other, relabelled, more_steps, other_seed))


def test_the_key_is_stable(data):
    settings = {"steps": 1}
    assert evaluator_key(data, settings) == evaluator_key(LabelledImages(data.images.double(), data.labels), settings)
    assert len(evaluator_key(data, settings)) == 64


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong-key", "wrong-shapes"])
def test_an_unusable_cache_file_means_retraining_not_a_crash(damage, data, tmp_path, trainings, caplog):
    first = build(data, tmp_path)
    path = first.path
    if damage == "garbage":
        path.write_bytes(b"not a safetensors file at all")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:100])
    elif damage == "wrong-key":
        other = build(LabelledImages(data.images * 0.5, data.labels), tmp_path)
        path.write_bytes(other.path.read_bytes())
    else:  # an evaluator of another shape stored under this key
        from safetensors.torch import save_file

        save_file({"features.0.weight": torch.zeros(1)}, str(path), metadata={"key": first.key})
    trained = len(trainings)
    with caplog.at_level(logging.WARNING, logger="synthaug.metrics.evaluator_cache"):
        again = build(data, tmp_path)
    assert not again.from_cache and len(trainings) == trained + 1
    assert "unusable" in caplog.text
    assert build(data, tmp_path).from_cache  # the file was replaced by a good one
    assert torch.equal(
        again.classifier(data.images[:3]), first.classifier(data.images[:3])
    )  # same recipe, same weights


def test_cache_dir_comes_from_the_argument_then_the_environment(data, tmp_path, monkeypatch, trainings):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "from-env"))
    assert cache_root() == tmp_path / "from-env"
    assert cache_root(tmp_path / "arg") == tmp_path / "arg"
    evaluator = build(data, None)
    assert evaluator.path.parent == tmp_path / "from-env" / "evaluators"
    monkeypatch.delenv(CACHE_ENV)
    assert cache_root() == cache_root("~/.cache/synthaug")


def test_an_unwritable_cache_still_returns_the_evaluator(data, tmp_path, trainings, caplog):
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory should be")
    with caplog.at_level(logging.WARNING, logger="synthaug.metrics.evaluator_cache"):
        evaluator = build(data, blocker)
    assert not evaluator.from_cache and "could not cache" in caplog.text
    assert evaluator.classifier(data.images[:2]).shape == (2, 3)


def test_describe_names_the_feature_extractor(data, tmp_path):
    text = build(data, tmp_path).describe()
    assert "SmallCNN" in text and "128-d" in text and f"{STEPS} Adam steps" in text and str(len(data)) in text


def test_empty_data_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least one"):
        evaluator_classifier(
            LabelledImages(torch.zeros(0, 1, 8, 8), torch.zeros(0, dtype=torch.long)), 3, cache_dir=tmp_path
        )
