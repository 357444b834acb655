"""``synthaug.albumentations``: synthaug's models as albumentations transforms.

The implementation lives with the other transforms, in
:mod:`synthaug.transforms.albumentations`; this namespace keeps the import the docs use::

    import synthaug.albumentations as SA
    pipeline = A.Compose([SA.Denoise("runs/digits-dae", p=1.0), A.HorizontalFlip()])
"""

from synthaug.transforms.albumentations import Denoise, VAEVariation

__all__ = ["Denoise", "VAEVariation"]
