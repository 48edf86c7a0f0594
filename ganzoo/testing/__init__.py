"""A conformance kit for variant plugins: run it in your plugin's own pytest suite.

Each ``check_*`` function tests one promise a variant makes to the rest of ganzoo and raises
``AssertionError`` with a message that names the variant, the check and what to fix. They use
the same public paths a user does (``ganzoo.create``, ``ganzoo.train``, ``save_pretrained``,
``ganzoo.load``), so a variant that passes them works with the CLI, the Hub and the benchmarks.

    from ganzoo import testing

    def test_conformance(tmp_path):
        testing.run_all("lsgan", tmp_path, image_size=16, channels=1, ngf=8, ndf=8)

Keyword arguments other than the kit's own (``sizes``, ``data``, ``steps``, ``batch_size``) are
config overrides; pass a tiny config (narrow networks, small images) so every check takes a
fraction of a second. A variant that takes several data kinds (``"image,points"``) is checked on
each of them: points use ``dim=2`` (the ``ring8`` mixture), images the config's size. A conditional
config (``num_classes`` > 0; 10 for the bundled mnist-5k) is checked with labels: ``G(z, y)`` and ``D(x, y)``
take them, samples follow the labels asked for and repeat per label, and it trains and resumes on labelled
mnist-5k. The modules: ``registration``, ``networks``, ``sampling`` and ``training`` (training, save/load, resume).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ganzoo.plugins import get_state

from .common import DEFAULT_DATA, DEFAULT_SIZES, ENGINE_QUIET, POINTS_DIM  # noqa: F401  (importable as before)
from .networks import check_networks
from .registration import check_import_is_light, check_registration
from .sampling import check_export, check_sampling
from .training import check_resume, check_save_load, check_training

__all__ = [
    "DEFAULT_DATA",
    "DEFAULT_SIZES",
    "check_registration",
    "check_import_is_light",
    "check_networks",
    "check_sampling",
    "check_export",
    "check_training",
    "check_save_load",
    "check_resume",
    "run_all",
]


def run_all(
    variant: str,
    tmp_path: str | Path,
    *,
    sizes: Iterable[tuple[int, int]] = DEFAULT_SIZES,
    data: str | None = None,
    steps: int = 4,
    batch_size: int = 8,
    **config: Any,
) -> list[str]:
    """Every check in turn; returns one line per check that ran (the import check runs only for an
    installed plugin: one registered in-process has no package to import afresh)."""
    done = []
    v = check_registration(variant)
    done.append("registration")
    info = get_state().infos[v.plugin]
    if info.distribution is not None:
        check_import_is_light(variant)
        done.append("import-is-light")
    else:
        done.append("import-is-light: not applicable (plugin registered in-process)")
    check_networks(variant, sizes=sizes, **config)
    done.append("networks")
    check_sampling(variant, **config)
    done.append("sampling")
    check_training(variant, tmp_path, data=data, steps=steps, batch_size=batch_size, **config)
    done.append("training")
    check_save_load(variant, tmp_path, **config)
    done.append("save/load")
    done.append(check_export(variant, **config))
    check_resume(variant, tmp_path, data=data, steps=steps, batch_size=batch_size, **config)
    done.append("resume")
    return done
