"""Model type -> trainer class, feeding ``synthaug train MODEL`` (same names as generators)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from synthaug.utils.registry import Registry

if TYPE_CHECKING:  # the trainers import this module to register themselves
    from synthaug.training.base import Trainer

TRAINERS: Registry[Trainer] = Registry("trainable model type")

register_trainer = TRAINERS.register
get_trainer_class = TRAINERS.get
available_trainers = TRAINERS.names
