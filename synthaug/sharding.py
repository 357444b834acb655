"""Compatibility facade: sharded export lives in :mod:`synthaug.export.sharding`.

``from synthaug.sharding import export_npz_shard`` keeps working; new code imports from
:mod:`synthaug.export`.
"""

from synthaug.export.reader import shard_name, shard_range
from synthaug.export.sharding import export_npz_shard, generator_digest, write_manifest

__all__ = ["export_npz_shard", "generator_digest", "shard_name", "shard_range", "write_manifest"]
