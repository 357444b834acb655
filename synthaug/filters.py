"""Quality filtering, as ``synthaug.filters``: the :class:`Filter` and a classifier to give it.

The filter lives with the data it filters (:mod:`synthaug.data.filters`) and receives its
classifier; training one is the metrics package's job
(:func:`synthaug.metrics.train_filter_classifier`). This namespace gathers both, as the
docs have always spelled them::

    classifier = synthaug.filters.train_filter_classifier(real_train)
    synth = synthaug.SyntheticDataset(gen, 10_000, filter=synthaug.filters.Filter(classifier, min_confidence=0.9))
"""

from synthaug.data.filters import Filter, FilterShortfall, Shortfall
from synthaug.metrics.classifier import train_filter_classifier

__all__ = ["Filter", "FilterShortfall", "Shortfall", "train_filter_classifier"]
