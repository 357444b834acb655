"""Constructors a user can read: every model's ``__init__`` names its config, and the two cannot drift.

The config recorded in ``model.config`` (and written to a bundle's ``config.json``) is
derived from the ``__init__`` arguments; these tests check that for every registered model,
and that a class whose constructor and ``config_fields`` disagree is refused when defined.
"""

from __future__ import annotations

import inspect
import json

import pytest
import torch
from torch import nn

import synthaug
from synthaug.generators import get_model_class
from synthaug.generators.base import ConditionalGenerator, ConfigurableModule, register_to_config
from synthaug.generators.bundle import read_bundle
from synthaug.generators.config import BoolField, ClassNamesField, IntField
from synthaug.validation import ArgumentTypeError

MODELS = synthaug.available_models()
TINY = dict(num_classes=3, channels=1, image_size=8, latent_dim=8, width=8, class_names=["a", "b", "c"])


@pytest.fixture(params=MODELS)
def cls(request) -> type[ConfigurableModule]:
    return get_model_class(request.param)


def tiny_config(cls) -> dict:
    return {k: v for k, v in TINY.items() if k in cls.config_fields}


def parameters(cls) -> list[inspect.Parameter]:
    return list(inspect.signature(cls).parameters.values())


def test_every_builtin_model_is_registered():
    assert {"cgan", "cvae", "dae"} <= set(MODELS)


def test_signature_parameters_are_the_config_fields(cls):
    params = parameters(cls)
    assert [p.name for p in params] == list(cls.config_fields), "same names, in the same order"
    for p in params:
        assert p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY), f"{p.name}: no *args/**kwargs"
        assert p.annotation is not p.empty, f"{p.name} has no type annotation"


def test_signature_defaults_are_the_config_defaults(cls):
    params = parameters(cls)
    required = {p.name: TINY[p.name] for p in params if p.default is p.empty}
    with torch.device("meta"):  # default sizes, nothing allocated
        config = cls(**required).config
    assert set(config) == {p.name for p in params}
    for p in params:
        if p.name == "stages" and p.default is None:
            # None means "chosen from image_size"; the config records the number chosen.
            assert isinstance(config[p.name], int), p.name
        elif p.default is not p.empty:
            assert config[p.name] == p.default, p.name
            assert type(config[p.name]) is type(p.default), p.name


def test_config_round_trips_through_the_constructor_and_json(cls):
    config = cls(**tiny_config(cls)).config
    assert cls(**config).config == config
    assert cls(**json.loads(json.dumps(config))).config == config


def test_positional_and_keyword_arguments_record_the_same_config(cls):
    positional = [p.name for p in parameters(cls) if p.kind is p.POSITIONAL_OR_KEYWORD]
    config = tiny_config(cls)
    args = [config[name] for name in positional]
    rest = {k: v for k, v in config.items() if k not in positional}
    assert cls(*args, **rest).config == cls(**config).config


def test_help_lists_every_argument(cls):
    doc = inspect.getdoc(cls.__init__) or ""
    assert "Args:" in doc
    for name in cls.config_fields:
        assert f"{name}:" in doc, f"{cls.__name__}.__init__'s docstring does not describe {name}"


def test_wrapped_generator_names_its_config_and_its_other_arguments():
    cls = synthaug.WrappedGenerator
    names = [p.name for p in parameters(cls)]
    assert [n for n in names if n not in cls.config_ignore] == list(cls.config_fields)
    assert set(cls.config_ignore) <= set(names)
    gen = synthaug.wrap(nn.Identity(), 3, (1, 8, 8), 4, class_names=("a", "b", "c"))
    assert gen.config == {"num_classes": 3, "latent_dim": 4, "class_names": ["a", "b", "c"]}
    assert cls(nn.Identity(), image_shape=(1, 8, 8), **gen.config).config == gen.config


def test_too_many_positional_arguments_are_refused(cls):
    with pytest.raises(ArgumentTypeError, match=f"{cls.__name__} config"):
        cls(*range(20))


def test_unknown_and_missing_arguments_are_type_and_value_errors():
    """Python raises TypeError for a bad keyword; synthaug raised ValueError before: both catch it."""
    with pytest.raises(TypeError, match=r"unknown key\(s\) \['colour'\]"):
        synthaug.DenoisingAutoencoder(colour=3)
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['colour'\]"):
        synthaug.DenoisingAutoencoder(colour=3)
    with pytest.raises(ArgumentTypeError, match="missing required key 'num_classes'"):
        synthaug.ConditionalGAN()


def test_numpy_integers_are_accepted_and_recorded_as_int():
    np = pytest.importorskip("numpy")
    model = synthaug.DenoisingAutoencoder(channels=np.int64(1), image_size=np.int32(8), width=np.int64(4))
    assert model.config == {"channels": 1, "image_size": 8, "width": 4}
    assert all(type(v) is int for v in model.config.values())


# -- drift is refused when the class is defined -----------------------------------------------


def define(fields, init):
    """Define a ConfigurableModule subclass with ``config_fields=fields`` and ``__init__=init``."""
    return type("Drifting", (ConfigurableModule,), {"config_fields": fields, "__init__": init})


def test_an_argument_without_a_field_is_refused():
    @register_to_config
    def __init__(self, *, width: int = 8, depth: int = 2) -> None:
        super(type(self), self).__init__()

    with pytest.raises(TypeError, match=r"\['depth'\] have no entry in config_fields"):
        define({"width": IntField(1, 64)}, __init__)


def test_a_field_without_an_argument_is_refused():
    @register_to_config
    def __init__(self, *, width: int = 8) -> None:
        pass

    with pytest.raises(TypeError, match=r"config_fields \['depth'\] are not __init__ arguments"):
        define({"width": IntField(1, 64), "depth": IntField(1, 4)}, __init__)


def test_kwargs_are_refused():
    @register_to_config
    def __init__(self, *, width: int = 8, **kwargs) -> None:
        pass

    with pytest.raises(TypeError, match=r"\*\*kwargs hides arguments"):
        define({"width": IntField(1, 64)}, __init__)


def test_a_default_its_field_refuses_is_refused():
    @register_to_config
    def __init__(self, *, width: int = 0) -> None:
        pass

    with pytest.raises(TypeError, match=r"default of 'width' is refused by its field: width must be in \[1, 64\]"):
        define({"width": IntField(1, 64)}, __init__)


def test_a_default_that_is_not_json_is_refused():
    @register_to_config
    def __init__(self, *, class_names: tuple = ("a",)) -> None:
        pass

    with pytest.raises(TypeError, match="use a JSON value as default"):
        define({"class_names": ClassNamesField()}, __init__)


def test_a_missing_annotation_is_refused():
    @register_to_config
    def __init__(self, *, ema=True) -> None:
        pass

    with pytest.raises(TypeError, match="'ema' has no type annotation"):
        define({"ema": BoolField()}, __init__)


def test_an_undecorated_init_is_refused():
    def __init__(self, *, width: int = 8) -> None:
        pass

    with pytest.raises(TypeError, match="must be decorated with @register_to_config"):
        define({"width": IntField(1, 64)}, __init__)


def test_old_style_field_defaults_fail_loudly():
    with pytest.raises(TypeError):
        IntField(1, 4, 1)  # the third slot was `default`; now keyword-only multiple_of


# -- extending a model ------------------------------------------------------------------------


class WiderGAN(synthaug.ConditionalGAN):
    """A user's subclass adding an argument: its own config is recorded, the parent's checks still apply."""

    config_fields = {**synthaug.ConditionalGAN.config_fields, "extra_width": IntField(0, 64)}

    @register_to_config
    def __init__(
        self,
        num_classes: int,
        *,
        channels: int = 1,
        image_size: int = 28,
        latent_dim: int = 128,
        width: int = 64,
        embed_dim: int = 16,
        class_names: list[str] | None = None,
        ema: bool = True,
        spectral_norm: bool = False,
        extra_width: int = 0,
    ) -> None:
        """Args: as ConditionalGAN, plus extra_width: added to width."""
        super().__init__(
            num_classes,
            channels=channels,
            image_size=image_size,
            latent_dim=latent_dim,
            width=width + extra_width,
            embed_dim=embed_dim,
            class_names=class_names,
            ema=ema,
            spectral_norm=spectral_norm,
        )


def test_a_subclass_records_its_own_arguments():
    model = WiderGAN(3, image_size=8, latent_dim=8, width=8, extra_width=4)
    assert model.config["width"] == 8 and model.config["extra_width"] == 4
    assert model.generator.width == 12
    assert WiderGAN(**model.config).config == model.config


def test_a_subclass_passing_a_bad_value_to_its_parent_is_refused():
    with pytest.raises(ValueError, match=r"width must be in \[1, 1024\], got 1030"):
        WiderGAN(3, image_size=8, latent_dim=8, width=1000, extra_width=30)


def test_a_subclass_without_its_own_init_may_narrow_a_range():
    class SmallDAE(synthaug.DenoisingAutoencoder):
        config_fields = {**synthaug.DenoisingAutoencoder.config_fields, "width": IntField(1, 32)}

    assert SmallDAE(image_size=8).config["width"] == 32
    with pytest.raises(ValueError, match=r"SmallDAE config: width must be in \[1, 32\], got 33"):
        SmallDAE(image_size=8, width=33)
    with pytest.raises(
        TypeError, match=r"default of 'width' is refused by its field: width must be in \[1, 16\], got 32"
    ):

        class TooSmallDAE(synthaug.DenoisingAutoencoder):  # the inherited default no longer fits
            config_fields = {**synthaug.DenoisingAutoencoder.config_fields, "width": IntField(1, 16)}


# -- from_pretrained through a base class, read_bundle's resolver ----------------------------------


def test_from_pretrained_on_a_base_class_loads_a_registered_subclass(generator_factory, dae_factory, tmp_path):
    generator_factory("cgan").save_pretrained(tmp_path / "cgan")
    dae_factory().save_pretrained(tmp_path / "dae")
    assert type(ConditionalGenerator.from_pretrained(tmp_path / "cgan")) is synthaug.ConditionalGAN
    assert type(ConfigurableModule.from_pretrained(tmp_path / "dae")) is synthaug.DenoisingAutoencoder
    with pytest.raises(TypeError, match="holds a DenoisingAutoencoder, not a ConditionalGenerator"):
        ConditionalGenerator.from_pretrained(tmp_path / "dae")


def test_read_bundle_needs_a_resolver(generator_factory, tmp_path):
    generator_factory("cgan").save_pretrained(tmp_path)
    with pytest.raises(TypeError, match=r"synthaug.load\(path\)"):
        read_bundle(tmp_path)
    model = read_bundle(tmp_path, resolve=get_model_class)
    assert type(model) is synthaug.ConditionalGAN and not model.training
