"""`ganzoo new-plugin NAME`: write a ready-to-install variant plugin project.

The project has the shape every ganzoo plugin has (docs/plugins.md): a pyproject.toml that
declares the "ganzoo" entry point, a package whose ``__init__.py`` holds only the hookimpl,
``config.py``, ``models.py`` and ``step.py``, and a test that runs the conformance kit
(``ganzoo.testing``). The variant it starts from is a complete, working GAN — DCGAN networks
with the non-saturating loss — so the tests pass before the author changes anything.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path
from string import Template

__all__ = ["new_plugin", "NAME_PATTERN"]

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")  # e.g. "lsgan", "sngan-v2"
MAX_NAME = 40  # characters; names show in `ganzoo list` tables


def new_plugin(name: str, dest: str | Path = ".") -> Path:
    """Write the plugin project ``dest/ganzoo-<name>/`` and return its path.

    ``name`` is the variant's name (lowercase letters, digits and single dashes, starting with a
    letter); the distribution is ``ganzoo-<name>`` and the package ``ganzoo_<name with _>``.
    Raises ValueError for a bad name or one already taken by an installed plugin or package, and
    FileExistsError when the folder exists (nothing is overwritten). ``dest`` is created if missing.
    """
    check_name(name)
    package = "ganzoo_" + name.replace("-", "_")
    project = Path(dest) / f"ganzoo-{name}"
    if project.exists():
        raise FileExistsError(f"{project} already exists; choose another --dest or remove it first")
    if importlib.util.find_spec(package) is not None:
        raise ValueError(
            f"a package called {package!r} is already installed; pick another name "
            f"(or uninstall it first: pip uninstall ganzoo-{name})"
        )
    from .plugins import get_state

    variants = get_state().variants
    if name in variants:
        raise ValueError(
            f"variant {name!r} is already registered by plugin {variants.get(name).plugin!r}; pick another name"
        )

    values = {"name": name, "package": package, "cls": "".join(p.capitalize() for p in name.split("-"))}
    project.mkdir(parents=True)  # FileExistsError if another process made it meanwhile
    try:
        for relative, template in FILES.items():
            path = project / Template(relative).substitute(values)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(Template(template).substitute(values))
    except BaseException:  # the whole project or nothing
        shutil.rmtree(project, ignore_errors=True)
        raise
    return project


def check_name(name: str) -> None:
    """Refuse a name that cannot be a variant, distribution and package name all at once."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or len(name) > MAX_NAME:
        raise ValueError(
            f"plugin name {name!r} is not valid: use lowercase letters, digits and single dashes, "
            f"starting with a letter, at most {MAX_NAME} characters (e.g. 'lsgan' or 'sngan-v2')"
        )


# ---- the files of a new project (string.Template: $name, $package, $cls) ------------------------

PYPROJECT = """\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "ganzoo-$name"
version = "0.1.0"
description = "The $name GAN variant as a ganzoo plugin"
readme = "README.md"
requires-python = ">=3.10"
license = "MIT"
dependencies = ["torch-ganzoo>=0.1"]

[project.optional-dependencies]
test = ["pytest>=8"]

# ganzoo finds the plugin through this entry point: once installed, `ganzoo list` shows $name.
[project.entry-points.ganzoo]
$name = "$package"

[tool.setuptools]
packages = ["$package"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

README = """\
# ganzoo-$name

The `$name` GAN variant as a plugin for [ganzoo](https://pypi.org/project/torch-ganzoo/).

| | |
|---|---|
| **Install** (for development) | `pip install -e .` (or `ganzoo install -e .`) |
| **Test** | `pytest` |
| **Train** | `ganzoo train $name --data mnist-5k --image-size 32 --channels 1 --steps 2000 --out runs/$name` |

After installing, `ganzoo list` shows `$name` and `ganzoo info $name` its config.

## Layout

    pyproject.toml         the "ganzoo" entry point: $name = "$package"
    $package/
      __init__.py          the hookimpl that registers the variant (no torch imports: `ganzoo list` stays instant)
      config.py            the config dataclass: one field per option, the paper's default, a comment each
      models.py            build(config) -> {"G": ..., "D": ...}
      step.py              the training step: losses and update order, run by ganzoo's engine
    tests/
      test_conformance.py  ganzoo.testing checks registration, networks, sampling, training,
                           save/load and exact resume

The variant starts as DCGAN networks with the non-saturating GAN loss; change the losses in
`step.py` and the networks in `models.py`, keeping `pytest` green.
"""

INIT = '''\
"""The $name variant as a ganzoo plugin: the hookimpl and lazy "module:attr" references only."""

import ganzoo


@ganzoo.hookimpl
def ganzoo_register_variants(register):
    register(ganzoo.Variant(
        name="$name",
        summary="DCGAN networks trained with the non-saturating GAN loss",
        paper="Radford, Metz, Chintala 2015. Unsupervised Representation Learning with Deep "
              "Convolutional GANs. arXiv:1511.06434",
        config="$package.config:${cls}Config",
        build="$package.models:build",
        step="$package.step:${cls}Step",
        data_kind="image",
    ))
'''

CONFIG = '''\
"""$name config: every field has the paper's default and a comment; the same object is config.json."""

from dataclasses import dataclass

from ganzoo.config import check_betas, check_channels, check_positive, check_power_of_two_size


@dataclass
class ${cls}Config:
    image_size: int = 64  # side of the square images, a power of two >= 16
    channels: int = 3  # 1 = grayscale, 3 = RGB
    nz: int = 100  # length of the latent vector z
    ngf: int = 64  # generator width: filters of its last hidden layer
    ndf: int = 64  # discriminator width: filters of its first layer
    lr: float = 2e-4  # Adam learning rate for both networks
    betas: tuple = (0.5, 0.999)  # Adam betas

    def __post_init__(self):
        check_power_of_two_size(self)
        check_channels(self)
        check_positive(self, "nz", "ngf", "ndf", "lr")
        check_betas(self)
'''

MODELS = '''\
"""$name networks: ganzoo's DCGAN conv generator and discriminator, N(0, 0.02) init."""

from torch import nn

from ganzoo.networks import ConvDiscriminator, ConvGenerator, dcgan_init

from .config import ${cls}Config


def build(config: ${cls}Config) -> dict[str, nn.Module]:
    G = ConvGenerator(config.nz, config.ngf, config.channels, config.image_size, norm="batch")  # z -> (B, C, S, S)
    D = ConvDiscriminator(config.channels, config.ndf, config.image_size, norm="batch")  # (B, C, S, S) -> (B,)
    dcgan_init(G)
    dcgan_init(D)
    return {"G": G, "D": D}
'''

STEP = '''\
"""The $name training step: one discriminator update, then one generator update.

The engine gives the networks, optimizers and data through ``ctx`` and owns devices, precision,
checkpoints and logging; the step owns only the losses and the order of updates.
"""

import torch

from ganzoo.engine import Step, StepContext
from ganzoo.losses import d_loss_bce, g_loss_nonsaturating

from .config import ${cls}Config


class ${cls}Step(Step):
    def __init__(self, config: ${cls}Config):
        super().__init__(config)

    def optimizers(self, nets):
        c = self.config
        return {
            "D": torch.optim.Adam(nets["D"].parameters(), lr=c.lr, betas=tuple(c.betas)),
            "G": torch.optim.Adam(nets["G"].parameters(), lr=c.lr, betas=tuple(c.betas)),
        }

    def __call__(self, ctx: StepContext, real: torch.Tensor) -> None:
        G, D = ctx.models["G"], ctx.models["D"]
        fake = G(ctx.noise(real.shape[0]))  # (B, C, H, W)

        loss_d = d_loss_bce(D(real), D(fake.detach()))  # D: real -> 1, fake -> 0
        ctx.backward(loss_d)
        ctx.step("D")

        loss_g = g_loss_nonsaturating(D(fake))  # G: -log D(G(z))
        ctx.backward(loss_g)
        ctx.step("G")

        ctx.log(loss_d=loss_d, loss_g=loss_g)
'''

TEST = '''\
"""$name keeps every promise a ganzoo variant makes: ganzoo's conformance kit checks them."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # tiny networks run fastest on one thread

from ganzoo import testing  # noqa: E402

TINY = dict(image_size=16, channels=1, ngf=8, ndf=8)  # small enough for a few seconds on a CPU


def test_conformance(tmp_path):
    testing.run_all("$name", tmp_path, sizes=((16, 1), (32, 3)), **TINY)
'''

FILES = {
    "pyproject.toml": PYPROJECT,
    "README.md": README,
    "$package/__init__.py": INIT,
    "$package/config.py": CONFIG,
    "$package/models.py": MODELS,
    "$package/step.py": STEP,
    "tests/test_conformance.py": TEST,
}
