"""Multi-process training with PyTorch's own engine: ``torch.distributed`` + DDP under ``torchrun``.

``torchrun --nproc_per_node=N -m synthaug train ...`` starts N copies of the same command
and tells each its place through environment variables (``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``, ``MASTER_ADDR``/``MASTER_PORT``). :class:`DistributedRun` reads them, and a
trainer then

* joins the process group (``nccl`` on CUDA, ``gloo`` on CPU) and, on CUDA, uses the GPU
  ``cuda:LOCAL_RANK``;
* wraps the networks it updates in :class:`~torch.nn.parallel.DistributedDataParallel`,
  which averages gradients across processes during ``backward`` (and broadcasts rank 0's
  initial weights, so every process starts identical);
* shards each epoch's data with :class:`~torch.utils.data.DistributedSampler`: every
  process gets ``batch_size / N`` items of each global batch, so a run with N processes
  and ``batch_size=B`` takes the same optimiser steps on batches of the same size as one
  process with ``B``;
* writes checkpoints, logs, grids and the bundle from rank 0 only.

Outside torchrun (no ``WORLD_SIZE``, or 1) everything here is a no-op: single-process
training is exactly what it was.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an int (torchrun sets it), got {text!r}") from None
    if value < 0:
        raise ValueError(f"environment variable {name} must be >= 0, got {value}")
    return value


@dataclass
class DistributedRun:
    """Where this process sits in a torchrun job (rank 0 of 1 outside one).

    Attributes:
        rank: this process's index among all processes (0 writes the files).
        local_rank: its index on this machine (picks the GPU).
        world_size: number of processes; 1 means plain single-process training.
    """

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    _owns_group: bool = field(default=False, repr=False)

    @classmethod
    def from_env(cls) -> DistributedRun:
        """Read torchrun's variables, or the already initialised default process group."""
        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_rank(), _env_int("LOCAL_RANK", 0), dist.get_world_size())
        world = _env_int("WORLD_SIZE", 1)
        rank, local = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
        if world < 1 or rank >= world:
            raise ValueError(f"RANK={rank} and WORLD_SIZE={world}: expected 0 <= RANK < WORLD_SIZE (set by torchrun)")
        return cls(rank, local, world)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and shows progress."""
        return self.rank == 0

    def device(self, requested: str) -> str:
        """The device this process trains on: ``cuda`` becomes ``cuda:LOCAL_RANK`` under torchrun."""
        if self.enabled and requested == "cuda":
            return f"cuda:{self.local_rank}"
        return requested

    def start(self, device: torch.device) -> None:
        """Join the process group (once per process); a no-op outside torchrun."""
        if not self.enabled or dist.is_initialized():
            return
        if not dist.is_available():
            raise RuntimeError("torch.distributed is not available in this PyTorch build; run without torchrun")
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
        self._owns_group = True

    def stop(self) -> None:
        """Wait for every process, then leave the group if :meth:`start` joined it."""
        if self.enabled and dist.is_initialized():
            dist.barrier()
            if self._owns_group:
                dist.destroy_process_group()
                self._owns_group = False

    def abort(self) -> None:
        """Leave the group without waiting (after an error: the others may never arrive)."""
        if self._owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self._owns_group = False

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` in DDP (gradients averaged across processes), or itself when single-process."""
        if not self.enabled:
            return module
        device = next(module.parameters()).device
        return DistributedDataParallel(module, device_ids=[device] if device.type == "cuda" else None)

    def local_batch_size(self, batch_size: int) -> int:
        """Each process's share of the global ``batch_size`` (which the world size must divide)."""
        if batch_size % self.world_size:
            raise ValueError(
                f"batch_size={batch_size} must be divisible by the number of processes "
                f"({self.world_size}): it is the global batch, split evenly across them"
            )
        return batch_size // self.world_size

    def shard_order(self, num_items: int, seed: int, epoch: int) -> torch.Tensor:
        """This process's items for ``epoch``: a shuffled shard, disjoint from the others' (equal sizes)."""
        # The sampler only takes len() of its dataset; torch's stub asks for a Dataset.
        sampler: DistributedSampler[int] = DistributedSampler(
            range(num_items),  # type: ignore[arg-type]
            num_replicas=self.world_size,
            rank=self.rank,
            shuffle=True,
            seed=seed,
            drop_last=True,
        )
        sampler.set_epoch(epoch)
        return torch.tensor(list(sampler), dtype=torch.long)

    def mean(self, values: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Each scalar averaged over the processes (one collective for all of them)."""
        if not self.enabled or not values:
            return values
        keys = sorted(values)
        stacked = torch.stack([torch.as_tensor(values[k], dtype=torch.float64) for k in keys])
        device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else "cpu"
        stacked = stacked.to(device)
        dist.all_reduce(stacked)
        stacked /= self.world_size
        return {k: v for k, v in zip(keys, stacked.cpu())}
