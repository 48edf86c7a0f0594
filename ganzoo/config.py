"""Config dataclasses: building them from user keywords or config.json, and checking values.

Every variant's config is a dataclass whose fields carry the paper defaults; the same object is
written to config.json, so a run or a published model can be rebuilt from it.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from typing import Any

MAX_WHOLE = 2**20  # the largest width, latent length or layer count a config may ask for (far above any paper's)


class ConfigError(ValueError):
    """A config key or value that the variant cannot use; the message says which and why."""


def make_config(cls: type, overrides: dict[str, Any] | None = None, *, variant: str = "") -> Any:
    """Build ``cls(**overrides)``, refusing unknown keys with the valid ones and close matches.

    Keys the config class has renamed (its ``RENAMED`` table, old name -> new) are read under their new
    names first, so run folders and published configs written before a rename still load.
    """
    overrides = migrate_renamed(cls, dict(overrides or {}), variant=variant)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in overrides:
        if key in TRICK_FIELDS and key not in fields:
            who = f"variant {variant!r}" if variant else cls.__name__
            raise ConfigError(
                f"{who} does not take the discriminator trick {key!r} (its config has no such field); "
                f"the variants that take it are listed in docs/tricks.md"
            )
        if key not in fields:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            who = f"variant {variant!r}" if variant else cls.__name__
            raise ConfigError(f"unknown config key {key!r} for {who}{hint} (valid: {', '.join(fields)})")
    for key, value in overrides.items():
        default = _default(fields[key])
        if isinstance(value, list) and isinstance(default, tuple):  # JSON gives lists for tuples
            overrides[key] = tuple(value)
        elif isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            overrides[key] = float(value)  # "-c r1=1" means 1.0, and config.json records it so
    try:
        return cls(**overrides)
    except (TypeError, AttributeError) as exc:  # a value of the wrong type that the config's own checks did not expect
        who = f"variant {variant!r}" if variant else cls.__name__
        given = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
        raise ConfigError(f"{who} cannot use the config values given ({given}): {type(exc).__name__}: {exc}") from None


def migrate_renamed(cls: type, values: dict[str, Any], *, variant: str = "") -> dict[str, Any]:
    """``values`` with each old key of ``cls.RENAMED`` (old name -> new name) under its new name.

    The one path by which a config reads keys that an older ganzoo wrote; both names with different
    values is an error, since either could be the intended one.
    """
    for old, new in getattr(cls, "RENAMED", {}).items():
        if old not in values:
            continue
        value = values.pop(old)
        if new in values and values[new] != value:
            who = f"variant {variant!r}" if variant else cls.__name__
            raise ConfigError(
                f"{who} got both {old!r}={value!r} and {new!r}={values[new]!r}; {old!r} is the old "
                f"name of {new!r}: give {new!r} only"
            )
        values.setdefault(new, value)
    return values


@dataclasses.dataclass
class DiscriminatorTricks:
    """Tricks against collapse and overfitting, shared by the variants whose config inherits them: on D's side,
    and one on G's (mode seeking).

    ganzoo.tricks applies them once for all: packing and augmentation as a transform of every D input,
    minibatch standard deviation as a layer the shared discriminators insert, R1, label smoothing and
    two time-scale rates through the shared losses and optimizers, mode seeking through ganzoo.tricks.generator_loss.
    All are off by default (the papers);
    a variant whose paper turns some on redeclares those fields with its defaults (StyleGAN2: r1, mbstd, augment).
    """

    pack: int = 1  # PacGAN (Lin et al. 2018): D judges this many samples at once, concatenated along
    #                channels; 1 = off; the batch must be a multiple of it
    mbstd: int = 0  # minibatch standard deviation (Karras et al. 2018): group size of the std feature
    #                 D appends before its last layer; 0 = off
    augment: str = ""  # DiffAugment (Zhao et al. 2020) ops on every D input, e.g. "translation,cutout"; "ada" =
    #                    adaptive discriminator augmentation (Karras et al. 2020); "" = none
    r1: float = 0.0  # weight gamma of the R1 penalty gamma/2 * ||grad D(x)||^2 on real inputs
    #                  (Mescheder et al. 2018); 0 = none
    r1_interval: int = 1  # lazy R1 (Karras et al. 2020): the penalty only on iterations that are multiples of
    #                       this, weighted by it, so it costs 1/interval as much; 1 = every iteration
    real_label: float = 1.0  # D's target for real samples; 0.9 = one-sided label smoothing (Salimans et al. 2016)
    lr_d: float = 0.0  # D's own learning rate when > 0: two time-scale updates (Heusel et al. 2017); 0 = lr
    ada_target: float = 0.6  # ADA: the r_t = E[sign(D(real))] it holds D at; higher = less augmentation (paper: 0.6)
    ada_kimg: float = 500.0  # ADA's speed: thousands of images over which p can go from 0 to 1 (paper: 500)
    ada_interval: int = 4  # ADA: D updates between two adjustments of p (paper: 4)
    ada_ops: str = "bgc"  # ADA's op groups: b = flips, 90-degree turns, integer shifts; g = scaling, rotation,
    #                       fractional shifts; c = colour (paper: "bgc")
    mode_seeking: float = 0.0  # G's side: weight of the mode-seeking term (Mao et al. 2019, MSGAN: 1) added to
    #                            G's loss, 1 / (image distance / latent distance) over pairs of fakes that share a
    #                            class; it pays G for making two latents give two different images; 0 = off


TRICK_FIELDS = tuple(f.name for f in dataclasses.fields(DiscriminatorTricks))


def check_tricks(config: Any, refuse: dict[str, str] | None = None) -> None:
    """Check the DiscriminatorTricks fields of ``config``; ``refuse`` maps a trick the variant cannot take in
    its current setting to why (it must then stay at its default). A class-conditional config refuses packing."""
    defaults = DiscriminatorTricks()
    refuse = dict(refuse or {})
    if is_conditional(config):
        refuse.setdefault(
            "pack", "a packed D input would mix samples of different labels; pack an unconditional run (num_classes=0)"
        )
    for name, why in refuse.items():
        if getattr(config, name) != getattr(defaults, name):
            raise ConfigError(
                f"{name}={getattr(config, name)!r} cannot be used here: {why}; leave it at {getattr(defaults, name)!r}"
            )
    for name, minimum in (("pack", 1), ("mbstd", 0), ("r1_interval", 1)):
        value = getattr(config, name)
        if type(value) is not int or value < minimum:
            raise ConfigError(f"{name} must be a whole number >= {minimum} ({minimum} = off), got {value!r}")
    if config.mbstd == 1:
        raise ConfigError(
            "mbstd=1 gives a standard deviation over one sample, always 0: use a group of 2 or more "
            "(Karras et al.: 4), or 0 for off"
        )
    check_augment(config)
    check_ada(config)
    check_non_negative(config, "r1", "no penalty")
    if not 0.5 < config.real_label <= 1:
        raise ConfigError(f"real_label must be in (0.5, 1] (1 = no smoothing), got {config.real_label!r}")
    check_non_negative(config, "lr_d", "the same as lr")
    check_non_negative(config, "mode_seeking", "off")


def is_conditional(config: Any) -> bool:
    """A config trains class-conditionally when it has ``num_classes`` > 0 (0 or absent: unconditional)."""
    value = getattr(config, "num_classes", 0)
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def check_labels(net: Any, n: int, y: Any) -> None:
    """Labels y (n,) are required by a class-conditional net (``net.num_classes`` > 0) and refused by an
    unconditional one, with a message that says which."""
    name, k = type(net).__name__, getattr(net, "num_classes", 0)
    if k and y is None:
        raise ValueError(f"{name} is class-conditional ({k} classes): pass labels y, a ({n},) int64 tensor")
    if not k and y is not None:
        raise ValueError(f"{name} is unconditional (num_classes=0): call it without labels")
    if y is not None and tuple(y.shape) != (n,):
        raise ValueError(f"{name} needs one label per sample, shape ({n},), got labels of shape {tuple(y.shape)}")


def config_to_dict(config: Any) -> dict[str, Any]:
    """The config's fields as a dict, the variant's own first and the shared DiscriminatorTricks after them."""
    values = dataclasses.asdict(config)
    return {
        **{k: v for k, v in values.items() if k not in TRICK_FIELDS},
        **{k: v for k, v in values.items() if k in TRICK_FIELDS},
    }


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


# ---- value checks for __post_init__ -------------------------------------------------------------


def check_positive(config: Any, *names: str) -> None:
    """Positive numbers: a field whose default is a whole number (a width, nz) must be one, at most MAX_WHOLE;
    any other must be a finite float (a rate, an epsilon), so NaN and inf are refused before a run starts."""
    for name in names:
        value = getattr(config, name)
        if _whole_field(config, name):
            if type(value) is not int or not 1 <= value <= MAX_WHOLE:
                raise ConfigError(f"{name} must be a positive number, a whole one up to {MAX_WHOLE}, got {value!r}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{name} must be a positive number, and finite, got {value!r}")


def check_count(config: Any, name: str, minimum: int = 1, zero_means: str = "", maximum: int | None = None) -> None:
    """A whole number >= ``minimum`` (and <= ``maximum``): a width, a layer or class count, an interval."""
    value = getattr(config, name)
    if type(value) is not int or value < minimum:
        meaning = f" (0 = {zero_means})" if zero_means else ""
        raise ConfigError(f"{name} must be a whole number >= {minimum}{meaning}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}={value} is above the largest this config takes ({maximum}); use a smaller value")


def _whole_field(config: Any, name: str) -> bool:
    """True when ``name`` is a dataclass field of ``config`` whose default is an int (not a bool)."""
    if not dataclasses.is_dataclass(config):
        return False
    field = next((f for f in dataclasses.fields(config) if f.name == name), None)
    default = _default(field) if field is not None else None
    return isinstance(default, int) and not isinstance(default, bool)


ADVERSARIAL_LOSSES = ("hinge", "non-saturating")  # the `loss` names of ganzoo.losses.adversarial_losses


def check_choice(config: Any, name: str, choices: tuple) -> None:
    value = getattr(config, name)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def check_fraction(config: Any, name: str) -> None:
    """A value in [0, 1], such as the point of a run where learning-rate decay starts."""
    value = getattr(config, name)
    if not 0 <= value <= 1:
        raise ConfigError(f"{name} must be in [0, 1], got {value!r}")


def check_non_negative(config: Any, name: str, zero_means: str = "") -> None:
    """A number >= 0, such as a loss weight; ``zero_means`` says what 0 does, for the error."""
    value = getattr(config, name)
    finite = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not (finite and value >= 0):
        meaning = f" (0 = {zero_means})" if zero_means else ""
        raise ConfigError(f"{name} must be >= 0{meaning}, got {value!r}")


AUGMENTATIONS = ("translation", "cutout")  # the ops of ganzoo.augment (kept here: configs import no torch)
ADA = "ada"  # the augment value that turns on adaptive discriminator augmentation
ADA_GROUPS = "bgc"  # ADA's op groups (ganzoo.augment.ADA_GROUPS)


def check_augment(config: Any, name: str = "augment") -> None:
    """A comma-separated DiffAugment policy such as "translation,cutout", "ada" alone, or "" for none."""
    value = getattr(config, name)
    ops = str(value).split(",")
    if value == ADA:
        return
    if ADA in ops:
        raise ConfigError(f"{name}={value!r} mixes ADA with DiffAugment ops: use {name}='ada' alone (its ops: ada_ops)")
    unknown = [op for op in ops if op and op not in AUGMENTATIONS]
    if not isinstance(value, str) or unknown:
        raise ConfigError(
            f'{name} must be comma-separated ops from {", ".join(AUGMENTATIONS)}, "ada", or "" for none, got {value!r}'
        )


def check_ada(config: Any) -> None:
    """ADA's settings: meaningful values, and only set with augment="ada"."""
    defaults = DiscriminatorTricks()
    if config.augment != ADA:
        for name in ("ada_target", "ada_kimg", "ada_interval", "ada_ops"):
            if getattr(config, name) != getattr(defaults, name):
                raise ConfigError(
                    f"{name}={getattr(config, name)!r} has no effect without augment='ada': add -c augment=ada, "
                    f"or leave {name} out"
                )
    target = config.ada_target
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0 <= target < 1:
        raise ConfigError(f"ada_target must be in [0, 1) (the paper's 0.6), got {target!r}")
    kimg = config.ada_kimg
    if isinstance(kimg, bool) or not isinstance(kimg, (int, float)) or not (math.isfinite(kimg) and kimg > 0):
        raise ConfigError(f"ada_kimg must be a number of thousand images > 0 (the paper's 500), got {kimg!r}")
    if type(config.ada_interval) is not int or config.ada_interval < 1:
        raise ConfigError(f"ada_interval must be a whole number >= 1 (the paper's 4), got {config.ada_interval!r}")
    ops = config.ada_ops
    if not isinstance(ops, str) or not ops or any(g not in ADA_GROUPS for g in ops) or len(set(ops)) < len(ops):
        raise ConfigError(
            f"ada_ops must be letters from {ADA_GROUPS!r}, each at most once (the paper's 'bgc'), got {ops!r}"
        )


def check_channels(config: Any, name: str = "channels") -> None:
    check_choice(config, name, (1, 3))


MAX_IMAGE_SIZE = 1024  # the largest side a conv generator here is built for (StyleGAN2 on FFHQ)


def check_power_of_two_size(config: Any, name: str = "image_size", minimum: int = 16) -> None:
    """Conv generators double the resolution per layer from 4x4, so sizes are 2^k >= minimum."""
    value = getattr(config, name)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if value < minimum or value & (value - 1) or value > MAX_IMAGE_SIZE:
        raise ConfigError(
            f"{name}={value} cannot be made by this architecture: use a power of two >= {minimum} and "
            f"<= {MAX_IMAGE_SIZE} (e.g. 32 or 64)"
        )


def check_betas(config: Any, name: str = "betas") -> None:
    value = getattr(config, name)
    if not (isinstance(value, (tuple, list)) and len(value) == 2 and all(0 <= b < 1 for b in value)):
        raise ConfigError(f"{name} must be two numbers in [0, 1), got {value!r}")
