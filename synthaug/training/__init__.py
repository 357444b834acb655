"""Trainers: they own optimisation; networks and datasets know nothing of them."""

from synthaug.training.base import Trainer, TrainingConfig, TrainResult
from synthaug.training.cgan import CGANTrainer
from synthaug.training.cvae import CVAETrainer
from synthaug.training.registry import available_trainers, get_trainer_class, register_trainer

__all__ = [
    "CGANTrainer",
    "CVAETrainer",
    "Trainer",
    "TrainResult",
    "TrainingConfig",
    "available_trainers",
    "get_trainer_class",
    "register_trainer",
]
