"""Trainers: they own optimisation; networks and datasets know nothing of them."""

from synthaug.training.base import Trainer, TrainingDiverged, TrainResult
from synthaug.training.cgan import CGANTrainer
from synthaug.training.config import (
    TRAINING_CONFIG_NAME,
    CGANTrainingConfig,
    CVAETrainingConfig,
    DAETrainingConfig,
    RunConfig,
    TrainingConfig,
    load_run_config,
)
from synthaug.training.cvae import CVAETrainer
from synthaug.training.dae import DAETrainer
from synthaug.training.diffaugment import DiffAugment
from synthaug.training.losses import GAN_LOSSES, get_gan_loss
from synthaug.training.registry import available_trainers, get_trainer_class, register_trainer

__all__ = [
    "CGANTrainer",
    "CGANTrainingConfig",
    "CVAETrainer",
    "CVAETrainingConfig",
    "DAETrainer",
    "DAETrainingConfig",
    "DiffAugment",
    "GAN_LOSSES",
    "RunConfig",
    "TRAINING_CONFIG_NAME",
    "Trainer",
    "TrainResult",
    "TrainingConfig",
    "TrainingDiverged",
    "available_trainers",
    "get_gan_loss",
    "get_trainer_class",
    "load_run_config",
    "register_trainer",
]
