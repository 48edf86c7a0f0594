"""Settings a variant suggests for some data: taken where the user sets nothing, recorded, shown by `ganzoo info`.

WGAN-GP suggests the 2D-mixture recipe of docs/benchmarks.md for points data (the paper's image
defaults, gp_lambda 10 and width 512, leave ring8 at 0/8 modes after 3,000 steps); the full runs
that check the recipe reaches every mode are in docs/benchmarks.md, these check the plumbing.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

import ganzoo
from ganzoo import plugins
from ganzoo.api import data_suggestions
from ganzoo.data import parse_spec
from ganzoo.registry import PluginError

from .conftest import run_ganzoo

QUIET = dict(device="cpu", progress="off", sample_every=0, log_every=1)


def record(run) -> dict:
    return json.loads((run / "config.json").read_text())


def test_wgan_gp_on_ring8_takes_the_points_recipe_and_records_it(tmp_path):
    run = ganzoo.train("wgan-gp", "ring8", out=tmp_path / "run", budget=0.01, **QUIET)  # no steps: the suggestion's
    rec = record(run)
    assert {k: rec["config"][k] for k in ("hidden", "gp_lambda", "decay_start", "lr", "dim")} == {
        "hidden": 128,
        "gp_lambda": 0.1,
        "decay_start": 0.5,
        "lr": 5e-4,
        "dim": 2,
    }
    assert {k: rec["engine"][k] for k in ("ema", "batch_size", "steps")} == {
        "ema": 0.999,
        "batch_size": 256,
        "steps": 8000,
    }


def test_the_spec_name_beats_the_data_kind_and_the_user_beats_both(tmp_path):
    run = ganzoo.train("wgan-gp", "grid25", steps=1, out=tmp_path / "grid", **QUIET)
    rec = record(run)
    assert (rec["config"]["lr"], rec["config"]["hidden"], rec["engine"]["ema"]) == (1e-3, 128, 0.999)
    run = ganzoo.train(
        "wgan-gp", "ring8", steps=1, out=tmp_path / "mine", lr=2e-4, gp_lambda=10.0, batch_size=32, ema=0.0, **QUIET
    )
    rec = record(run)
    assert (rec["config"]["lr"], rec["config"]["gp_lambda"], rec["config"]["hidden"]) == (2e-4, 10.0, 128)
    assert (rec["engine"]["batch_size"], rec["engine"]["ema"], rec["engine"]["steps"]) == (32, 0.0, 1)


def test_points_settings_stay_off_image_data_and_other_variants():
    from ganzoo_vanilla.config import VanillaConfig
    from ganzoo_wgan_gp.config import WGANGPConfig

    wgan, vanilla = ganzoo.info("wgan-gp"), ganzoo.info("vanilla")
    assert data_suggestions(WGANGPConfig, parse_spec("mnist-5k")[0], wgan, ("ema", "steps")) == (
        {"image_size": 32, "channels": 1},
        {},
    )  # the data spec's own shape only
    assert data_suggestions(VanillaConfig, parse_spec("ring8")[0], vanilla, ("ema", "steps")) == ({}, {})
    both = dataclasses.replace(wgan, suggests={"ring8": {"lr": 2e-4, "steps": 7}, "points": {"lr": 1.0, "steps": 1}})
    assert data_suggestions(WGANGPConfig, parse_spec("ring8")[0], both, ("steps",)) == ({"lr": 2e-4}, {"steps": 7})


class StrayPlugin:
    @ganzoo.hookimpl
    def ganzoo_register_variants(self, register):
        wgan = ganzoo.info("wgan-gp")
        register(
            ganzoo.Variant(
                name="stray",
                summary="WGAN-GP with a misspelt suggestion",
                paper="none (a test)",
                config=wgan.config,
                build=wgan.build,
                step=wgan.step,
                data_kind="points",
                suggests={"ring8": {"gp_lamda": 0.1}},
            )
        )


def test_a_suggestion_that_names_no_setting_is_the_plugins_error_before_any_data_loads(tmp_path):
    plugins.register_plugin(StrayPlugin(), "stray-test")
    with pytest.raises(PluginError) as err:
        ganzoo.train("stray", "ring8", steps=1, out=tmp_path / "run", **QUIET)
    assert str(err.value).startswith(
        "variant 'stray' from plugin 'stray-test' suggests gp_lamda for 'ring8' data, "
        "which is neither its config nor an engine option"
    )
    assert not (tmp_path / "run").exists()


def test_info_shows_what_a_variant_suggests_for_which_data():
    out = run_ganzoo("info", "wgan-gp")
    assert out.returncode == 0, out.stderr
    assert "suggests:\n  on points = {'hidden': 128, 'gp_lambda': 0.1, 'decay_start': 0.5, 'ema': 0.99}\n" in out.stdout
    assert "  on ring8 = {'lr': 0.0005, 'batch_size': 256, 'steps': 8000, 'ema': 0.999}" in out.stdout
    listed = json.loads(run_ganzoo("info", "wgan-gp", "--json").stdout)["suggests"]
    assert listed["on grid25"] == {"lr": 1e-3, "batch_size": 64, "steps": 20000, "ema": 0.999}
    assert "suggests" not in json.loads(run_ganzoo("info", "dcgan", "--json").stdout)
