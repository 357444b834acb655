"""Synthetic data on disk: writing it (ImageFolder, ``.npz``, grids, shards) and reading it back.

* :mod:`synthaug.export.writers`: all-or-nothing exports of a generator's samples;
* :mod:`synthaug.export.sharding`: disjoint ``.npz`` shards written by many processes,
  and their manifest;
* :mod:`synthaug.export.reader`: :class:`ExportedDataset`, a torchvision-style dataset of
  an export that needs no generator.

This package sits above :mod:`synthaug.data` (it samples through ``SyntheticDataset``).
"""

from synthaug.export.reader import MANIFEST_NAME, ExportedDataset, read_manifest, shard_name, shard_range
from synthaug.export.sharding import export_npz_shard, generator_digest, write_manifest
from synthaug.export.writers import export_grid, export_imagefolder, export_npz, folder_names

__all__ = [
    "MANIFEST_NAME",
    "ExportedDataset",
    "export_grid",
    "export_imagefolder",
    "export_npz",
    "export_npz_shard",
    "folder_names",
    "generator_digest",
    "read_manifest",
    "shard_name",
    "shard_range",
    "write_manifest",
]
