"""What head -> tail translation (M2m) makes on the long tail: pictures and acceptance rates.

Usage:
    .venv/bin/python bench/translation_pictures.py            # after bench/downstream.py --protocols longtail
    .venv/bin/python bench/translation_pictures.py --protocol longtail10

Uses what the downstream rows use: the protocol's real training images, the filter
classifier trained on them (500 steps, seed 0: the frozen judge of the translation) and
the protocol's cVAE bundle (bench/results/downstream/bundles/<protocol>-cvae). For each
class it asks ``HeadToTail.sample`` for 200 images in each space and records how many were
translations (the rest fell back to real images). It writes
bench/results/translation-<protocol>.json and docs/img/translation-<protocol>.png: for
three tail classes, eight head images (top), their pixel-space translations (middle) and
their cVAE-latent translations (bottom), accepted or not.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from downstream import protocol_data  # bench/downstream.py: the same protocols

import synthaug
from synthaug.data.real import load_fashion_mnist_data
from synthaug.filters import train_filter_classifier
from synthaug.transforms.translation import HeadToTail

ROOT = Path(__file__).resolve().parents[1]
PER_CLASS = 200
SHOWN = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", default="longtail", choices=["longtail", "longtail10"])
    args = parser.parse_args()
    start = time.perf_counter()
    real = load_fashion_mnist_data()
    train = protocol_data(args.protocol, real, smoke=False)
    k = real.num_classes
    classifier = train_filter_classifier(train, num_classes=k, steps=500, seed=0, progress=False)
    bundle = ROOT / "bench" / "results" / "downstream" / "bundles" / f"{args.protocol}-cvae"
    if not (bundle / "config.json").exists():
        raise SystemExit(f"no cVAE bundle at {bundle}: run bench/downstream.py --protocols {args.protocol} first")
    cvae = synthaug.load(bundle)
    translators = {
        "pixel": HeadToTail(classifier, train, class_names=real.class_names),
        "latent": HeadToTail(classifier, train, space="latent", cvae=cvae, class_names=real.class_names),
    }
    result: dict = {"protocol": args.protocol, "per_class": PER_CLASS, "classes": real.class_names, "spaces": {}}
    for space, translator in translators.items():
        began = time.perf_counter()
        labels = torch.arange(1, k).repeat_interleave(PER_CLASS)  # every class but the largest (class 0)
        translator.sample(labels, generator=torch.Generator().manual_seed(0))
        result["spaces"][space] = {
            "settings": repr(translator),
            "requested": translator.requested.tolist(),
            "translated": translator.translated.tolist(),
            "fell_back": translator.fell_back.tolist(),
            "seconds": round(time.perf_counter() - began, 1),
        }
        print(f"{space}: {translator.report()}\n", flush=True)
    # The picture: for the three rarest classes, eight head images and both translations.
    rows, names = [], []
    heads = train.images[train.labels == 0]
    for target in (k - 1, k - 2, k - 4):
        sources = heads[torch.randperm(len(heads), generator=torch.Generator().manual_seed(target))[:SHOWN]]
        source_labels = torch.zeros(SHOWN, dtype=torch.long)
        targets = torch.full((SHOWN,), target)
        made = {space: t.translate(sources, source_labels, targets) for space, t in translators.items()}
        rows += [sources, made["pixel"].images, made["latent"].images]
        for space in ("pixel", "latent"):
            accepted = int(made[space].accepted.sum())
            names.append(f"{space} -> {real.class_names[target]} ({accepted}/{SHOWN} accepted)")
        names.insert(len(names) - 2, f"{real.class_names[0]} (source)")
    picture = ROOT / "docs" / "img" / f"translation-{args.protocol}.png"
    synthaug.viz.save_image_grid(
        torch.cat(rows),
        SHOWN,
        picture,
        row_labels=names,
        title=f"Head -> tail translation on {args.protocol} (frozen filter classifier, threshold 0.9)",
    )
    result["picture"] = str(picture.relative_to(ROOT))
    result["seconds"] = round(time.perf_counter() - start, 1)
    out = ROOT / "bench" / "results" / f"translation-{args.protocol}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out} and {picture} in {result['seconds']} s")


if __name__ == "__main__":
    main()
