"""evaluate_generator end to end with fake generators whose answers are known, and the report files."""

from __future__ import annotations

import json
import math

import pytest
import torch
from PIL import Image

from synthaug import GeneratorProtocol
from synthaug.data.real import LabelledImages, RealData
from synthaug.metrics import evaluate_generator, markdown_report, write_report

NAMES = ["left", "right", "top"]
SETTINGS = dict(num_per_class=30, classifier_steps=40, kid_subsets=5, progress=False)


class ReplayGenerator:
    """A fake generator that returns real images: of the asked class, or (``shuffled``) of any class."""

    def __init__(self, pool: LabelledImages, shuffled: bool = False, class_names=NAMES):
        self.pool, self.shuffled = pool, shuffled
        self.num_classes, self.image_shape = 3, tuple(pool.images.shape[1:])
        self.class_names = class_names

    def sample(self, labels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        picks = []
        for label in labels.tolist():
            candidates = (
                torch.arange(len(self.pool)) if self.shuffled else torch.nonzero(self.pool.labels == label)[:, 0]
            )
            picks.append(candidates[torch.randint(len(candidates), (1,), generator=generator)])
        return self.pool.images[torch.cat(picks)].clone()


@pytest.fixture(scope="module")
def real(pattern_factory) -> RealData:
    return RealData("patterns", pattern_factory(40, seed=20), pattern_factory(15, seed=21), NAMES)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("evaluator-cache")


@pytest.fixture(scope="module")
def faithful(real, pattern_factory, cache):
    """Replays *new* real images (a third draw of the patterns) of the right class."""
    generator = ReplayGenerator(pattern_factory(40, seed=22))
    return generator, evaluate_generator(generator, real, cache_dir=cache, **SETTINGS)


@pytest.fixture(scope="module")
def shuffled(real, pattern_factory, cache):
    generator = ReplayGenerator(pattern_factory(40, seed=22), shuffled=True)
    return generator, evaluate_generator(generator, real, cache_dir=cache, **SETTINGS)


def test_fake_generators_satisfy_the_protocol(faithful, shuffled):
    assert isinstance(faithful[0], GeneratorProtocol) and isinstance(shuffled[0], GeneratorProtocol)


def test_a_generator_of_real_images_of_the_right_class_scores_like_real_data(faithful):
    _, report = faithful
    overall, reference = report["overall"], report["reference"]
    assert report["feature_extractor"]["real_test_accuracy"] == 1.0  # the evaluator itself is perfect here
    assert overall["label_fidelity"] == 1.0
    assert [row["label_fidelity"] for row in report["per_class"]] == [1.0, 1.0, 1.0]
    assert overall["cas"] > 0.9 and overall["real_accuracy"] == 1.0
    for key in ("precision", "recall", "coverage"):
        assert overall[key] > 0.7, (key, overall)
    assert overall["frechet_distance"] < 5 * reference["frechet_distance"] + 1.0
    assert overall["exact_copies"] == 0 and not report["memorisation"]["flagged"]


def test_a_label_shuffled_generator_has_label_fidelity_near_one_over_k(faithful, shuffled):
    _, report = shuffled
    overall = report["overall"]
    assert abs(overall["label_fidelity"] - 1 / 3) < 0.12
    assert overall["cas"] < 0.7  # its labels teach nothing
    # The images are still real: as a set they are as good as the faithful ones' ...
    assert overall["precision"] > 0.7
    # ... but each class's samples are a mix of all three, far from that class's real images.
    per_class_kid = [row["kid"] for row in report["per_class"]]
    faithful_kid = [row["kid"] for row in faithful[1]["per_class"]]
    assert all(s > f for s, f in zip(per_class_kid, faithful_kid))


def test_the_evaluator_is_trained_once_for_both_generators(faithful, shuffled):
    extractors = [faithful[1]["feature_extractor"], shuffled[1]["feature_extractor"]]
    assert extractors[0]["cache_key"] == extractors[1]["cache_key"]
    assert [e["from_cache"] for e in extractors] == [False, True]


def test_a_copying_generator_is_flagged(real, cache):
    report = evaluate_generator(ReplayGenerator(real.train), real, cache_dir=cache, **SETTINGS)
    assert report["memorisation"]["flagged"]
    assert report["overall"]["exact_copies"] == report["settings"]["num_samples"] == 90
    assert [row["exact_copies"] for row in report["per_class"]] == [30, 30, 30]


def test_report_structure_and_settings(faithful, real):
    _, report = faithful
    assert report["settings"]["num_samples"] == 90 and report["settings"]["num_per_class"] == 30
    assert report["settings"]["reference_size"] == 90
    assert report["data"] == {
        "name": "patterns",
        "num_train": 120,
        "num_test": 45,
        "image_shape": [1, 8, 8],
        "class_names": NAMES,
        "test_class_counts": [15, 15, 15],
    }
    assert report["overall"]["kid_subset_size"] == 45  # min(1000, 45 test, 90 samples)
    assert [row["kid_subset_size"] for row in report["per_class"]] == [15, 15, 15]
    assert [row["class"] for row in report["per_class"]] == NAMES
    assert "SmallCNN" in report["feature_extractor"]["description"]
    assert set(report["seconds"]) == {"evaluator", "sampling", "distribution metrics", "CAS", "memorisation"}


def test_the_samples_are_seeded(real, pattern_factory, cache):
    generator = ReplayGenerator(pattern_factory(40, seed=22))
    options = {**SETTINGS, "num_per_class": 6, "classifier_steps": 5}
    a = evaluate_generator(generator, real, seed=3, cache_dir=cache, **options)
    b = evaluate_generator(generator, real, seed=3, cache_dir=cache, **options)
    c = evaluate_generator(generator, real, seed=4, cache_dir=cache, **options)
    drop = lambda r: {k: v for k, v in r.items() if k not in ("seconds", "feature_extractor")}  # noqa: E731
    assert json.dumps(drop(a)) == json.dumps(drop(b)) != json.dumps(drop(c))

    # One sample per class: PRDC (k=5) needs more than 5 per set, the Fréchet distance 2.
    small = evaluate_generator(generator, real, cache_dir=cache, **{**options, "num_per_class": 1})
    assert math.isnan(small["overall"]["precision"]) and not math.isnan(small["overall"]["frechet_distance"])
    assert math.isnan(small["per_class"][0]["frechet_distance"]) and math.isnan(small["per_class"][0]["kid"])


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda g: setattr(g, "num_classes", 4), ValueError, "4 classes"),
        (lambda g: setattr(g, "image_shape", (3, 8, 8)), ValueError, "image"),
        (lambda g: setattr(g, "class_names", ["top", "left", "right"]), ValueError, "wrong classes"),
    ],
    ids=["classes", "shape", "class-order"],
)
def test_incompatible_generators_are_refused(change, error, match, real, pattern_factory, tmp_path):
    generator = ReplayGenerator(pattern_factory(5, seed=22))
    change(generator)
    with pytest.raises(error, match=match):
        evaluate_generator(generator, real, cache_dir=tmp_path, **SETTINGS)


def test_bad_arguments_are_refused(real, pattern_factory, tmp_path):
    generator = ReplayGenerator(pattern_factory(5, seed=22))
    with pytest.raises(TypeError, match="generator must provide"):
        evaluate_generator(object(), real, cache_dir=tmp_path)
    for kwargs, match in (({"num_per_class": 0}, "num_per_class"), ({"k": 0}, "k must"), ({"seed": -1}, "seed")):
        with pytest.raises(ValueError, match=match):
            evaluate_generator(generator, real, cache_dir=tmp_path, **kwargs)
    empty = RealData("x", real.train, LabelledImages(real.test.images[:0], real.test.labels[:0]), NAMES)
    with pytest.raises(ValueError, match="non-empty"):
        evaluate_generator(generator, empty, cache_dir=tmp_path)


def test_write_report_files(faithful, tmp_path):
    generator, report = faithful
    files = write_report(report, tmp_path / "report", generator, title="Replay")
    names = {
        "report.md",
        "report.json",
        "label_fidelity.png",
        "samples_class_00.png",
        "samples_class_01.png",
        "samples_class_02.png",
    }
    assert set(files) == names == {p.name for p in (tmp_path / "report").iterdir()}
    for name in names - {"report.md", "report.json"}:
        with Image.open(files[name]) as image:
            assert image.format == "PNG" and image.width > 100
    strict = json.loads(files["report.json"].read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))
    assert strict["overall"]["label_fidelity"] == 1.0 and strict["settings"] == report["settings"]
    md = files["report.md"].read_text()
    assert md.startswith("# Replay") and "feature extractor" in md and "SmallCNN" in md
    assert "not comparable with published FID/KID" in md
    for heading in ("## Overall", "## Per class", "## Memorisation", "## Figures"):
        assert heading in md
    assert all(f"| {name} |" in md for name in NAMES)
    assert "samples_class_02.png" in md and "no sign of copying" in md


def test_undefined_metrics_are_null_in_json_and_na_in_markdown(faithful, tmp_path):
    _, report = faithful
    report = json.loads(json.dumps(report))  # a copy
    report["per_class"][1]["precision"] = float("nan")
    files = write_report(report, tmp_path, generator=None)
    assert "samples_class_00.png" not in files and "label_fidelity.png" in files
    assert json.loads(files["report.json"].read_text())["per_class"][1]["precision"] is None
    assert "n/a" in markdown_report(report) and "samples_class_00.png" not in files["report.md"].read_text()
