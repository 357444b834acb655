"""Atomic writes and seeded construction."""

from __future__ import annotations

import os

import pytest
import torch

from synthaug.utils.atomic import atomic_file, write_text_atomic
from synthaug.utils.seeding import seeded


def test_write_text_atomic_replaces_content_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "sub" / "file.txt"
    write_text_atomic(path, "one")
    write_text_atomic(path, "two")
    assert path.read_text() == "two"
    assert os.listdir(path.parent) == ["file.txt"]


def test_atomic_file_keeps_the_old_content_when_the_block_fails(tmp_path):
    path = tmp_path / "file.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_file(path) as tmp:
            tmp.write_text("half-written")
            raise RuntimeError("boom")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["file.txt"]


def test_atomic_file_gives_normal_permissions(tmp_path):
    path = tmp_path / "file.txt"
    write_text_atomic(path, "x")
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_seeded_is_reproducible_and_restores_the_global_rng():
    torch.manual_seed(1234)
    state = torch.random.get_rng_state()
    with seeded(5):
        a = torch.randn(4)
    with seeded(5):
        b = torch.randn(4)
    with seeded(6):
        c = torch.randn(4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(torch.random.get_rng_state(), state)
