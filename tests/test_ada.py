"""Adaptive discriminator augmentation (augment="ada"): its ops, its controller, and runs of every variant taking it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo import config as gconfig
from ganzoo import tricks
from ganzoo.augment import ADA_GROUPS, ada_augment
from ganzoo.config import ConfigError
from ganzoo.data import load_dataset

from .test_engine import QUIET, assert_identical, final_state

TINY = dict(image_size=16, channels=1, ngf=8, ndf=8)
VARIANTS = {  # every variant that takes ADA -> (data, tiny config)
    "vanilla": dict(image_size=16, channels=1, g_hidden=[16], d_hidden=[16]),
    "dcgan": TINY,
    "sngan": dict(image_size=32, channels=1, g_ch=4, d_ch=4, n_dis=2, num_classes=10),
    "biggan": dict(image_size=32, channels=1, g_ch=4, d_ch=4, num_classes=10),
    "stylegan2": dict(
        image_size=16, channels=1, z_dim=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=16, r1_interval=2
    ),  # fmt: skip
}


def digits(n: int = 8, channels: int = 1) -> torch.Tensor:
    x = load_dataset("mnist-5k", image_size=16, channels=channels)[0].tensor[:n]
    return x.clone()  # (n, C, 16, 16) in [-1, 1]


# ---- the ops ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("groups", ["b", "g", "c", "bgc"])
def test_ops_keep_the_shape_change_the_images_and_pass_gradients(channels, groups):
    x = digits(8, channels).requires_grad_(True)
    torch.manual_seed(0)
    y = ada_augment(x, 1.0, groups)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert not torch.allclose(y, x)  # at p = 1 every sample is transformed
    (grad,) = torch.autograd.grad((y * torch.randn_like(y)).sum(), x)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_p_zero_is_the_identity_and_draws_no_random_numbers():
    x = digits()
    state = torch.get_rng_state()
    assert ada_augment(x, 0.0) is x
    assert torch.equal(torch.get_rng_state(), state)


def test_blits_move_whole_pixels_and_small_p_leaves_most_samples_alone():
    x = digits(64)
    torch.manual_seed(1)
    y = ada_augment(x, 1.0, "b")  # flips, quarter turns, whole-pixel shifts: no value is interpolated
    values = set(x.flatten().tolist())
    assert all(min(abs(v - w) for w in values) < 1e-5 for v in y.flatten().unique().tolist())
    torch.manual_seed(2)
    y = ada_augment(x, 0.05, "bgc")  # 11 ops at p = 0.05: each sample untouched with probability ~0.57
    same = (y - x).flatten(1).abs().amax(dim=1) < 1e-5
    assert 20 <= int(same.sum()) <= 55


def test_grey_images_take_the_colour_ops_as_a_grey_rgb_pixel_would():
    """Brightness, contrast and the luma flip act on grey images; hue and saturation leave grey unchanged."""
    grey = digits(16)
    torch.manual_seed(3)
    one = ada_augment(grey, 1.0, "c")
    torch.manual_seed(3)
    three = ada_augment(grey.expand(16, 3, 16, 16).contiguous(), 1.0, "c")
    assert torch.allclose(three.mean(dim=1, keepdim=True), one, atol=1e-5)
    assert torch.allclose(three, three[:, :1].expand_as(three), atol=1e-5)  # still grey: no hue, no saturation


def test_config_and_augment_name_the_same_op_groups():
    assert gconfig.ADA_GROUPS == ADA_GROUPS == "bgc"


# ---- the controller --------------------------------------------------------------------------------------------


def controller(**settings) -> tricks.AdaController:
    values = {**dict(ada_target=0.6, ada_kimg=1.0, ada_interval=2, ada_ops="bgc", pack=1), **settings}
    return tricks.AdaController(types.SimpleNamespace(**values))


def test_p_moves_by_the_images_of_an_interval_toward_the_target():
    ada = controller()
    sure = torch.tensor([3.0, 1.0, 2.0, -1.0, 5.0, 2.0, 1.0, 1.0])  # mean sign 0.75 > 0.6: D overfits
    ada.observe(sure)
    assert ada.p == 0.0 and ada.rt is None  # half an interval
    ada.observe(sure)
    assert ada.p == pytest.approx(16 / 1000) and ada.rt == pytest.approx(0.75)  # 2 updates x 8 images / 1 kimg
    unsure = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, -1.0])  # mean sign 0 < 0.6
    for _ in range(4):
        ada.observe(unsure)
    assert ada.p == 0.0  # down twice, clamped at 0
    packed = controller(pack=4)
    for _ in range(2):
        packed.observe(sure)
    assert packed.p == pytest.approx(64 / 1000)  # each output judged 4 images


def test_the_sign_statistic_is_averaged_over_processes(monkeypatch):
    """Under DDP the sums are all-reduced: here the other process saw only reals D rejects."""

    def all_reduce(stats):
        stats += torch.tensor([-16.0, 16.0, 16.0], dtype=stats.dtype)  # the other rank: 16 outputs, all negative

    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "all_reduce", all_reduce)
    ada = controller(ada_target=0.2)
    for _ in range(2):
        ada.observe(torch.ones(8))  # this rank alone: r_t = 1 > 0.2
    assert ada.rt == 0.0 and ada.p == 0.0  # together: (16 - 16) / 32 = 0 < 0.2: p stays down
    monkeypatch.setattr(torch.distributed, "all_reduce", lambda stats: stats.mul_(2))  # a twin rank
    ada = controller()
    for _ in range(2):
        ada.observe(torch.ones(8))
    assert ada.p == pytest.approx(32 / 1000)  # both ranks' images count


def test_partial_saved_state_is_refused():
    settings = dict(augment="ada", pack=1, ada_target=0.6, ada_kimg=1.0, ada_interval=2, ada_ops="bgc")
    D = tricks.apply(torch.nn.Linear(2, 1), types.SimpleNamespace(**settings))
    saved = {f"D.{k}": v for k, v in tricks.ada_controller(D).state().items() if k != "ada_signs"}
    with pytest.raises(ValueError, match="holds part of D's ADA state \\(no ada_signs\\): it is damaged"):
        tricks.load_state_tensors({"D": D}, saved, torch.device("cpu"))
    saved = {f"D.{k}": v for k, v in tricks.ada_controller(D).state().items()}
    saved["D.ada_counts"] = saved["D.ada_counts"][:3]  # a layout with a count fewer
    with pytest.raises(ValueError, match=r"holds D's ADA ada_counts of shape \(3,\), not \(4,\): it is damaged"):
        tricks.load_state_tensors({"D": D}, saved, torch.device("cpu"))


# ---- config ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant, values, message",
    [
        ("dcgan", dict(augment="ada,translation"), "mixes ADA with DiffAugment ops: use augment='ada' alone"),
        ("dcgan", dict(augment="ada", ada_target=1.5), r"ada_target must be in \[0, 1\) \(the paper's 0.6\)"),
        ("dcgan", dict(augment="ada", ada_kimg=0), "ada_kimg must be a number of thousand images > 0"),
        ("dcgan", dict(augment="ada", ada_interval=0), "ada_interval must be a whole number >= 1"),
        ("dcgan", dict(augment="ada", ada_ops="bgx"), "ada_ops must be letters from 'bgc'"),
        ("dcgan", dict(ada_target=0.7), "ada_target=0.7 has no effect without augment='ada': add -c augment=ada"),
        ("wgan-gp", dict(augment="ada"), "a Wasserstein critic's have no zero point"),
        ("vanilla", dict(dim=2, augment="ada"), "augment='ada' cannot be used here: DiffAugment ops act on images"),
        ("cyclegan", dict(ada_kimg=100), "does not take the discriminator trick 'ada_kimg'"),
    ],
)
def test_bad_settings_are_one_clear_line(variant, values, message):
    with pytest.raises(ConfigError, match=message) as info:
        ganzoo.create(variant, **values)
    assert "\n" not in str(info.value)


# ---- training --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def few_digits(tmp_path_factory) -> Path:
    """A folder of 16 mnist-5k digits: a data set D memorises within a few dozen steps."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("few")
    for i, image in enumerate(digits(16)):
        Image.fromarray(((image[0] + 1) * 127.5).round().byte().numpy()).save(folder / f"{i}.png")
    return folder


def ada_p(run: Path) -> float:
    return float(final_state(run)["tricks.D.ada_p"])


def test_p_rises_when_d_overfits_and_stays_at_zero_when_it_cannot(tmp_path, few_digits):
    common = dict(steps=40, batch_size=16, augment="ada", ada_kimg=1.0, log_every=10, **QUIET, **TINY)
    strong = ganzoo.train("dcgan", str(few_digits), out=tmp_path / "strong", lr_d=4e-3, **common)
    weak = ganzoo.train("dcgan", str(few_digits), out=tmp_path / "weak", lr_d=1e-9, ada_target=0.9, **common)
    assert ada_p(strong) > 0.2  # D, fast and on 16 images, is sure of them: augment more
    assert ada_p(weak) == 0.0  # D barely trains: its real scores stay below the target, p never leaves 0
    lines = [json.loads(line) for line in (strong / "metrics.jsonl").read_text().splitlines()]
    assert [round(r["step"]) for r in lines] == [10, 20, 30, 40]
    assert lines[-1]["ada_rt"] > 0.6 and 0 < lines[-1]["ada_p"] <= 1  # the r_t estimate and p are logged


def test_exact_resume_keeps_p_and_its_running_sums(tmp_path, few_digits):
    opts = dict(batch_size=16, checkpoint_every=0, augment="ada", ada_kimg=0.5, ada_interval=3, lr_d=4e-3,
                **QUIET, **TINY)  # fmt: skip
    straight = ganzoo.train("dcgan", str(few_digits), steps=10, out=tmp_path / "a", **opts)
    ganzoo.train("dcgan", str(few_digits), steps=5, out=tmp_path / "b", **opts)  # stops 2 updates into an interval
    half = final_state(tmp_path / "b")
    assert half["tricks.D.ada_counts"][1] == 2 and half["tricks.D.ada_p"] > 0
    resumed = ganzoo.train(out=tmp_path / "b", steps=10, resume=True)
    assert_identical(final_state(straight), final_state(resumed))  # weights, optimizers, p and sums, bit for bit


def test_a_run_from_before_ada_resumes_with_it_from_p_zero(tmp_path, few_digits):
    run = ganzoo.train("dcgan", str(few_digits), steps=2, out=tmp_path / "run", batch_size=16, **QUIET, **TINY)
    assert not any(k.startswith("tricks.") for k in final_state(run))
    ganzoo.train(out=run, steps=4, resume=True, augment="ada", ada_interval=1)
    state = final_state(run)
    assert state["tricks.D.ada_counts"].tolist() == [0, 0, 0, 2]  # two intervals of one update each closed


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_variant_that_takes_ada_reports_its_reals(tmp_path, variant):
    config = VARIANTS[variant]
    run = ganzoo.train(variant, "mnist-5k", steps=2, out=tmp_path / "run", batch_size=8, augment="ada",
                       ada_interval=1, **QUIET, **config)  # fmt: skip
    state = final_state(run)
    updates = 4 if variant in ("sngan", "biggan") else 2  # n_dis = 2 there
    assert state["tricks.D.ada_counts"].tolist() == [0, 0, 0, updates]  # each D update closed an interval of 1
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert "ada_p" in lines[-1] and "ada_rt" in lines[-1]
    model = ganzoo.load(str(run))  # the run samples as before; D's weights keep their names
    assert not any("ada" in k for k in model.nets["D"].state_dict())
    assert model.sample(2, seed=0).shape[0] == 2


def test_a_step_that_never_reports_its_reals_is_told_how_to(tmp_path, monkeypatch):
    monkeypatch.setattr(tricks, "observe_real", lambda ctx, logits, net="D": logits)  # a step that skips it
    with pytest.raises(RuntimeError, match="ganzoo.tricks.score_real or hand D's outputs on them to"):
        ganzoo.train("dcgan", "mnist-5k", steps=30, out=tmp_path / "run", batch_size=8, augment="ada",
                     **QUIET, **TINY)  # fmt: skip


def test_the_last_line_names_p(tmp_path, capsys):
    """Logged and checked every step, before the first interval ends: no r_t yet, and nothing reads as non-finite."""
    ganzoo.train("dcgan", "mnist-5k", steps=2, out=tmp_path / "run", batch_size=8, augment="ada", log_every=1,
                 progress="on", sample_every=0, **TINY)  # fmt: skip
    ganzoo.train(out=tmp_path / "run", steps=5, resume=True, progress="on", sample_every=0)
    said = capsys.readouterr()
    text = said.out + said.err
    assert re.search(r"finished at step 2: .*checkpoints/ .*; ADA p 0\.000$", text, re.MULTILINE)
    assert re.search(r"finished at step 5: .*; ADA p 0\.000, r_t -?[01]\.\d\d$", text, re.MULTILINE)


def test_two_processes_share_one_p(tmp_path):
    """Under DDP (two CPU processes) the interval's sums are all-reduced: both ranks hold the same p and r_t,
    and p moved by the images of both ranks."""
    script = tmp_path / "ddp_ada.py"
    script.write_text(
        "import json, os, sys, ganzoo\n"
        "from ganzoo import tricks\n"
        "from ganzoo.engine import Trainer\n"
        "seen = {}\n"
        "original_run = Trainer.run\n"
        "def run(self, until=None):\n"
        "    out = original_run(self, until)\n"
        "    ada = tricks.ada_controller(self.raw['D'])\n"
        "    seen.update(p=ada.p, rt=ada.rt, world=self.dist.world)\n"
        "    return out\n"
        "Trainer.run = run\n"
        "ganzoo.train('dcgan', 'mnist-5k', steps=2, out=sys.argv[1], batch_size=16, checkpoint_every=0,\n"
        "             progress='off', sample_every=0, image_size=16, channels=1, ngf=8, ndf=8, augment='ada',\n"
        "             ada_interval=2, ada_kimg=0.2)\n"
        "with open(os.path.join(sys.argv[2], 'rank' + os.environ['RANK'] + '.json'), 'w') as f:\n"
        "    json.dump(seen, f)\n"
        "sys.stdout.flush(); sys.stderr.flush(); os._exit(0)\n"  # as test_engine's DDP test: skip torch's teardown
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script),
               str(tmp_path / "run"), str(tmp_path)]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"rank{i}.json").read_text()) for i in (0, 1))
    assert r0 == r1 and r0["world"] == 2 and r0["rt"] is not None
    assert r0["p"] == pytest.approx(2 * 16 * 2 / 200 if r0["rt"] > 0.6 else 0.0)  # 2 updates x 16 images x 2 ranks
