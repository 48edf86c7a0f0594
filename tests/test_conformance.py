"""The conformance kit (ganzoo.testing): the built-in variants pass it, broken plugins fail it clearly."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
import torch
from ganzoo_dcgan.config import DCGANConfig
from ganzoo_dcgan.models import build as dcgan_build
from ganzoo_dcgan.step import DCGANStep
from ganzoo_sngan.config import SNGANConfig
from ganzoo_sngan.models import build as sngan_build
from ganzoo_sngan.step import SNGANStep
from torch import nn

import ganzoo
from ganzoo import plugins, testing
from ganzoo.losses import d_loss_bce, g_loss_nonsaturating

from .conftest import make_distribution

# Tiny configs: each variant's whole kit run takes a few seconds on one thread.
TINY = {
    "vanilla": dict(g_hidden=[16, 16], d_hidden=[16, 16], image_size=8),
    "dcgan": dict(image_size=16, channels=1, ngf=8, ndf=8),
    "wgan-gp": dict(image_size=16, channels=1, ngf=8, ndf=8, hidden=32),
    "cyclegan": dict(image_size=32, channels=1, ngf=4, ndf=4),
    "pix2pix": dict(image_size=32, channels=1, ngf=4, ndf=4),
    "sngan": dict(
        image_size=32,
        channels=1,
        g_ch=8,
        d_ch=8,
        n_dis=2,
        num_classes=10,  # conditional, its default
        decay_start=1.0,
    ),  # a rate decaying from the start depends on --steps, which the resume check changes
    "stylegan2": dict(
        image_size=16,
        channels=1,
        z_dim=32,
        w_dim=32,
        mapping_layers=2,
        channel_base=256,
        channel_max=16,
        r1_interval=2,
        pl_interval=2,
    ),  # both lazy penalties run within the kit's few steps
}
SIZES = {
    "vanilla": ((8, 1), (8, 3)),
    "dcgan": ((16, 1), (32, 3)),
    "wgan-gp": ((16, 1), (32, 3)),
    "cyclegan": ((32, 1), (32, 3)),
    "pix2pix": ((32, 1), (64, 3)),
    "sngan": ((32, 1), (32, 3)),
    "stylegan2": ((16, 1), (32, 3)),
}
ALL_CHECKS = ["registration", "import-is-light", "networks", "sampling", "training", "save/load", "export", "resume"]


@pytest.mark.parametrize("variant", list(TINY))
def test_builtin_variants_pass_the_kit(tmp_path, variant):
    assert testing.run_all(variant, tmp_path, sizes=SIZES[variant], **TINY[variant]) == ALL_CHECKS


def test_sngan_passes_the_kit_unconditional_too(tmp_path):
    assert testing.run_all("sngan", tmp_path, sizes=SIZES["sngan"], **{**TINY["sngan"], "num_classes": 0}) == ALL_CHECKS


# ---- deliberately broken plugins, registered in-process -----------------------------------------

DCGAN_TINY = TINY["dcgan"]


def register_variant(name: str, **fields) -> None:
    """Register a DCGAN-based variant ``name`` in-process, with some of its fields replaced."""
    entry = dict(summary="a test variant", paper="none", config=DCGANConfig, build=dcgan_build, step=DCGANStep)
    entry.update(fields)

    class Plugin:
        @ganzoo.hookimpl
        def ganzoo_register_variants(self, register):
            register(ganzoo.Variant(name=name, **entry))

    plugins.register_plugin(Plugin(), f"plugin-{name}")


class WrappedGenerator(nn.Module):
    """The DCGAN generator with something done to its output (see the subclasses)."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner
        self.latent_shape = inner.latent_shape

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, nz, 1, 1) -> (B, C, S, S)
        return self.inner(z)


class NoisyGenerator(WrappedGenerator):
    def forward(self, z):
        return (self.inner(z) + 0.1 * torch.randn_like(self.inner(z))).clamp(-1, 1)  # ignores the seed


class UnboundedGenerator(WrappedGenerator):
    def forward(self, z):
        return 3 * self.inner(z) + 2  # no longer in [-1, 1]


class HiddenStateGenerator(WrappedGenerator):
    def __init__(self, inner):
        super().__init__(inner)
        self.register_buffer("shift", torch.rand(1) * 0.5, persistent=False)  # not in the state_dict

    def forward(self, z):
        return (self.inner(z) + self.shift).clamp(-1, 1)


def wrapping(cls: type):
    def build(config):
        nets = dcgan_build(config)
        nets["G"] = cls(nets["G"])
        return nets

    return build


class DiscriminatorOnlyStep(DCGANStep):
    """Forgets the generator's update."""

    def __call__(self, ctx, real):
        G, D = ctx.models["G"], ctx.models["D"]
        fake = G(ctx.noise(real.shape[0])).detach()
        loss_d = d_loss_bce(D(real), D(fake))
        ctx.backward(loss_d)
        ctx.step("D")
        ctx.log(loss_d=loss_d)


class OwnGeneratorStep(DCGANStep):
    """Draws its noise from a torch.Generator of its own, which no checkpoint holds."""

    def __init__(self, config):
        super().__init__(config)
        self.rng = torch.Generator().manual_seed(0)

    def __call__(self, ctx, real):
        G, D = ctx.models["G"], ctx.models["D"]
        fake = G(torch.randn((real.shape[0], *ctx.latent_shape), generator=self.rng))
        loss_d = d_loss_bce(D(real), D(fake.detach()))
        ctx.backward(loss_d)
        ctx.step("D")
        loss_g = g_loss_nonsaturating(D(fake))
        ctx.backward(loss_g)
        ctx.step("G")
        ctx.log(loss_d=loss_d, loss_g=loss_g)


@dataclass
class NoDefaultConfig:
    image_size: int  # no default: `ganzoo.create(name)` cannot build it
    channels: int = 1  # 1 = grayscale


def test_a_correct_in_process_variant_passes_and_says_what_did_not_apply(tmp_path):
    register_variant("good-copy")
    done = testing.run_all("good-copy", tmp_path, sizes=((16, 1),), **DCGAN_TINY)
    assert done[1] == "import-is-light: not applicable (plugin registered in-process)"
    assert len(done) == len(ALL_CHECKS)


def test_unknown_variant():
    with pytest.raises(AssertionError, match=r"variant 'nope' fails registration: no plugin registered it"):
        testing.check_registration("nope")


def test_config_field_without_default_fails_registration():
    register_variant("no-default", config=NoDefaultConfig)
    with pytest.raises(
        AssertionError, match=r"'no-default' fails registration: config field\(s\) image_size have no default"
    ):
        testing.check_registration("no-default")


def test_task_that_does_not_fit_the_data_fails_registration():
    register_variant("mixed-up", task="translate")
    with pytest.raises(AssertionError, match=r"task 'translate' does not fit data_kind 'image'"):
        testing.check_registration("mixed-up")


def test_unresolvable_reference_fails_registration():
    register_variant("dangling", step="ganzoo_dcgan.step:NoSuchStep")
    with pytest.raises(AssertionError, match=r"Variant.step = 'ganzoo_dcgan.step:NoSuchStep' does not resolve"):
        testing.check_registration("dangling")


def test_generator_outside_the_image_range_fails_networks():
    register_variant("unbounded", build=wrapping(UnboundedGenerator))
    with pytest.raises(
        AssertionError,
        match=r"'unbounded' fails networks: G\(z\) for image data \(1, 16, 16\) spans "
        r"\[.*\], outside the image range \[-1, 1\]; end the generator with tanh",
    ):
        testing.check_networks("unbounded", sizes=((16, 1),), **DCGAN_TINY)


def test_generator_that_ignores_the_seed_fails_sampling():
    register_variant("noisy", build=wrapping(NoisyGenerator))
    testing.check_networks("noisy", sizes=((16, 1),), **DCGAN_TINY)  # shapes and range are fine
    with pytest.raises(AssertionError, match=r"'noisy' fails sampling: the same seed gave different samples"):
        testing.check_sampling("noisy", **DCGAN_TINY)


class LabelBlindGenerator(WrappedGenerator):
    """A conditional generator that draws every sample as class 0, whatever it is asked for."""

    def __init__(self, inner):
        super().__init__(inner)
        self.num_classes = inner.num_classes

    def forward(self, z, y=None):
        return self.inner(z, torch.zeros_like(y))


def test_conditional_generator_that_ignores_its_labels_fails_sampling():
    def build(config):
        nets = sngan_build(config)
        nets["G"] = LabelBlindGenerator(nets["G"])
        return nets

    register_variant("label-blind", config=SNGANConfig, build=build, step=SNGANStep)
    with pytest.raises(AssertionError, match=r"'label-blind' fails sampling: labels 0 and 1 gave the same samples"):
        testing.check_sampling("label-blind", **TINY["sngan"])


def test_step_that_never_updates_the_generator_fails_training(tmp_path):
    register_variant("lazy-g", step=DiscriminatorOnlyStep)
    with pytest.raises(
        AssertionError,
        match=r"'lazy-g' fails training: 3 steps on mnist-5k left G unchanged; "
        r"does the step call ctx.step\('G'\)",
    ):
        testing.check_training("lazy-g", tmp_path, **DCGAN_TINY)


def test_state_outside_the_state_dict_fails_save_load(tmp_path):
    register_variant("hidden-state", build=wrapping(HiddenStateGenerator))
    with pytest.raises(
        AssertionError,
        match=r"'hidden-state' fails save/load: outputs differ after the round trip "
        r"although the saved tensors match",
    ):
        testing.check_save_load("hidden-state", tmp_path, **DCGAN_TINY)


def test_step_with_its_own_random_generator_fails_resume(tmp_path):
    register_variant("own-rng", step=OwnGeneratorStep)
    testing.check_training("own-rng", tmp_path, **DCGAN_TINY)  # it trains fine
    with pytest.raises(
        AssertionError,
        match=r"'own-rng' fails resume: after 2 \+ 2 resumed steps on mnist-5k, "
        r"net\.\S+ .*differ from 4 straight steps",
    ):
        testing.check_resume("own-rng", tmp_path, **DCGAN_TINY)


HEAVY = """
    import torch  # what a plugin's __init__.py must not do
    import ganzoo

    @ganzoo.hookimpl
    def ganzoo_register_variants(register):
        register(ganzoo.Variant("heavy", "imports torch on listing", "none",
                                config="ganzoo_dcgan.config:DCGANConfig", build="ganzoo_dcgan.models:build",
                                step="ganzoo_dcgan.step:DCGANStep"))
"""


def test_plugin_that_imports_torch_on_listing_fails_import_check(tmp_path, monkeypatch):
    make_distribution(tmp_path, "ganzoo-heavy", "ganzoo_heavy", HEAVY, entry_name="heavy")
    monkeypatch.syspath_prepend(str(tmp_path))  # found here, and by the kit's fresh interpreter:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    plugins.reset()
    testing.check_registration("heavy")
    with pytest.raises(
        AssertionError, match=r"'heavy' fails import-is-light: importing the plugin package imports torch"
    ):
        testing.check_import_is_light("heavy")


def test_import_check_needs_an_installed_plugin():
    register_variant("in-process")
    with pytest.raises(AssertionError, match=r"was registered in-process, not installed"):
        testing.check_import_is_light("in-process")
