"""Trainers: they own optimisation; networks and datasets know nothing of them."""

from synthaug.training.base import Trainer, TrainingConfig, TrainingDiverged, TrainResult
from synthaug.training.diffaugment import DiffAugment
from synthaug.training.losses import GAN_LOSSES, get_gan_loss
from synthaug.training.cgan import CGANTrainer
from synthaug.training.cvae import CVAETrainer
from synthaug.training.dae import DAETrainer
from synthaug.training.registry import available_trainers, get_trainer_class, register_trainer

__all__ = [
    "CGANTrainer",
    "CVAETrainer",
    "DAETrainer",
    "DiffAugment",
    "GAN_LOSSES",
    "Trainer",
    "TrainResult",
    "TrainingConfig",
    "TrainingDiverged",
    "available_trainers",
    "get_gan_loss",
    "get_trainer_class",
    "register_trainer",
]
