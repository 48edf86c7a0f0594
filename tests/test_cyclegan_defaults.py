"""CycleGAN's size-aware defaults: the rule at each size, the paper's values at 256px, and old
config.json files (which store every field) building the networks they were saved with."""

import json

import pytest
import torch
from ganzoo_cyclegan.config import CycleGANConfig
from ganzoo_cyclegan.models import build

import ganzoo
from ganzoo.config import config_to_dict, make_config
from ganzoo.networks import PatchDiscriminator, count_parameters

# (ngf, ndf, ResNet blocks, PatchGAN layers, lambda_identity) that CycleGANConfig(image_size=size) resolves to
SIZE_RULE = {32: (8, 8, 6, 3, 0.0), 64: (16, 16, 6, 3, 0.0), 128: (64, 64, 6, 3, 0.5), 256: (64, 64, 9, 3, 0.5)}
SCORE_MAP = {32: 2, 64: 6, 128: 14, 256: 30}  # side of the PatchGAN's map: at 32px each score sees the whole image


@pytest.mark.parametrize("size", sorted(SIZE_RULE))
def test_size_rule(size):
    c = CycleGANConfig(image_size=size)
    assert (c.ngf, c.ndf, c.resnet_blocks, c.n_layers_d, c.lambda_identity) == SIZE_RULE[size]
    saved = config_to_dict(c)  # what config.json records: the resolved values, not the rule's markers
    assert (saved["ngf"], saved["ndf"], saved["lambda_identity"]) == (c.ngf, c.ndf, SIZE_RULE[size][4])
    scores = PatchDiscriminator(1, c.ndf, c.n_layers_d, norm="instance")(torch.zeros(1, 1, size, size))
    assert scores.shape == (1, 1, SCORE_MAP[size], SCORE_MAP[size])


def test_paper_defaults_at_256():
    c = CycleGANConfig()
    assert (c.image_size, c.channels, c.ngf, c.ndf, c.resnet_blocks, c.n_layers_d) == (256, 3, 64, 64, 9, 3)
    assert (c.lambda_cycle, c.lambda_identity, c.pool_size, c.lr, c.betas, c.decay_start) == (
        10.0,
        0.5,
        50,
        2e-4,
        (0.5, 0.999),
        0.5,
    )
    nets = build(c)
    assert count_parameters(nets["G_AB"]) == 11_378_179 and count_parameters(nets["D_A"]) == 2_764_737


def test_explicit_values_win_over_the_rule():
    c = CycleGANConfig(image_size=32, ngf=64, ndf=16, lambda_identity=0.5)
    assert (c.ngf, c.ndf, c.lambda_identity) == (64, 16, 0.5)
    assert CycleGANConfig(lambda_identity=0.0).lambda_identity == 0.0  # 0 is "off", not "by size", at 256px too
    with pytest.raises(ValueError, match="ngf"):
        CycleGANConfig(image_size=32, ngf=-8)
    with pytest.raises(
        ValueError, match=r"lambda_identity must be >= 0 \(0 = no identity loss\) or -1 \(by image size\), got -0.5"
    ):
        CycleGANConfig(image_size=32, lambda_identity=-0.5)


# counts measured with the networks as they were before the size rule (ngf/ndf defaulted to 64)
OLD_RECORDS = [
    ({"image_size": 32, "channels": 1, "ngf": 8, "ndf": 8, "n_blocks": 0, "n_layers_d": 3}, 123_361, 44_281),
    ({"image_size": 32, "channels": 1, "ngf": 64, "ndf": 64, "n_blocks": 0, "n_layers_d": 3}, 7_825_153, 2_762_689),
    ({"image_size": 128, "channels": 3, "ngf": 64, "ndf": 64, "n_blocks": 0, "n_layers_d": 3}, 7_837_699, 2_764_737),
]


@pytest.mark.parametrize("record,g_params,d_params", OLD_RECORDS)
def test_old_config_json_builds_the_same_networks(record, g_params, d_params):
    old = {
        **record,
        "lambda_cycle": 10.0,
        "lambda_identity": 0.5,
        "pool_size": 50,
        "lr": 0.0002,
        "betas": [0.5, 0.999],
        "decay_start": 0.5,
    }
    config = make_config(CycleGANConfig, json.loads(json.dumps(old)), variant="cyclegan")
    assert config.lambda_identity == 0.5  # the loss it was trained with, whatever the size rule says now
    nets = build(config)
    assert count_parameters(nets["G_AB"]) == g_params and count_parameters(nets["D_A"]) == d_params


def test_bundled_model_loads_as_saved():
    model = ganzoo.load("cyclegan-mnist-inverted")  # strict: every tensor present with its saved shape
    assert (model.config.ngf, model.config.ndf, model.config.resnet_blocks) == (8, 8, 6)
    assert count_parameters(model.nets["G_AB"]) == 123_361


def test_training_with_defaults_writes_resolved_values(tmp_path):
    run = tmp_path / "cg"
    ganzoo.train("cyclegan", "mnist-5k-thick", steps=2, out=run, batch_size=2, progress="off", log_every=1)
    config = json.loads((run / "config.json").read_text())["config"]
    assert (config["image_size"], config["channels"], config["ngf"], config["ndf"]) == (32, 1, 8, 8)
    assert config["lambda_identity"] == 0.0
    model = ganzoo.load(str(run))
    assert count_parameters(model.nets["G_AB"]) == 123_361
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [row["loss_idt"] for row in logged if "loss_idt" in row] == [0.0, 0.0]  # no identity loss at 32px

    ganzoo.train(
        "cyclegan",
        "mnist-5k-thick",
        steps=1,
        out=tmp_path / "idt",
        batch_size=2,
        progress="off",
        log_every=1,
        lambda_identity=0.5,
    )
    logged = [json.loads(line) for line in (tmp_path / "idt" / "metrics.jsonl").read_text().splitlines()]
    assert [row["loss_idt"] > 0 for row in logged if "loss_idt" in row] == [True]


def test_shift_task_moves_the_ink_and_upright_undoes_it():
    from ganzoo.data.mnist_tasks import TASKS, holdout_pairs

    a, b, _ = holdout_pairs("shift")  # (500, 1, 32, 32) each
    assert a.shape == b.shape == (500, 1, 32, 32)
    assert torch.equal(b[..., :, :-4], a[..., :, 4:])  # every column 4 pixels left
    assert torch.equal(TASKS["shift"].upright(b), a)
    ink = a > 0
    assert (ink & (b > 0)).sum() < 0.5 * ink.sum()  # most ink lands where there was none: pixels move
    data, entry = ganzoo.load_dataset("mnist-5k-shift")  # unpaired: A centred, B moved, disjoint halves
    assert entry.kind == "unpaired" and len(data) == 2250
    real_a, real_b = data.batch(torch.arange(len(data)))  # (2250, 1, 32, 32) each
    assert not any(torch.equal(real_b[0], TASKS["shift"].forward(x)) for x in real_a)  # no digit beside its own move
