"""Model type -> trainer class, feeding ``synthaug train MODEL`` (same names as generators)."""

from __future__ import annotations

from synthaug.utils.registry import Registry

TRAINERS = Registry("trainable model type")

register_trainer = TRAINERS.register
get_trainer_class = TRAINERS.get
available_trainers = TRAINERS.names
