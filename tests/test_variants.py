"""The four built-in variants' networks: paper parameter counts, shapes, seeded sampling, config errors."""

import pytest
import torch

import ganzoo
from ganzoo.config import ConfigError
from ganzoo.networks import count_parameters


def test_dcgan_matches_the_reference_parameter_counts_and_init():
    model = ganzoo.create("dcgan")  # nz=100, ngf=ndf=64, 3 channels, 64x64
    assert count_parameters(model.nets["G"]) == 3_576_704
    assert count_parameters(model.nets["D"]) == 2_765_568
    convs = [m.weight for m in model.nets["G"].modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    all_w = torch.cat([w.flatten() for w in convs])
    assert abs(all_w.mean()) < 1e-3 and abs(all_w.std() - 0.02) < 1e-3
    bn = [m.weight for m in model.nets["D"].modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert abs(torch.cat(bn).mean() - 1) < 0.01 and abs(torch.cat(bn).std() - 0.02) < 0.01


@pytest.mark.parametrize("size,channels", [(32, 1), (32, 3), (64, 1), (64, 3), (16, 1)])
def test_dcgan_sizes_and_channels(size, channels):
    model = ganzoo.create("dcgan", image_size=size, channels=channels, ngf=8, ndf=8)
    x = model.sample(3, seed=0)
    assert x.shape == (3, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1
    assert model.nets["D"](x).shape == (3,)


def test_cyclegan_matches_the_paper_nets():
    model = ganzoo.create("cyclegan")  # 256px, 3 channels, 9 blocks
    assert count_parameters(model.nets["G_AB"]) == 11_378_179
    assert count_parameters(model.nets["D_A"]) == 2_764_737
    with torch.no_grad():
        assert model.nets["D_A"](torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    small = ganzoo.create("cyclegan", image_size=32, channels=1, ngf=8, ndf=8)
    assert small.config.resnet_blocks == 6
    assert sum(1 for m in small.nets["G_AB"].modules() if type(m).__name__ == "ResnetBlock") == 6
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    for direction in ("a2b", "b2a"):
        y = small.translate(x, direction=direction)
        assert y.shape == x.shape and y.abs().max() <= 1
    with pytest.raises(ValueError, match="'a2b' or 'b2a'"):
        small.translate(x, direction="sideways")
    with pytest.raises(TypeError, match="translate"):
        small.sample(4)


def test_wgan_gp_critic_has_no_batch_norm_and_a_linear_output():
    model = ganzoo.create("wgan-gp", image_size=32, channels=1, ngf=8, ndf=8)
    kinds = {type(m).__name__ for m in model.nets["D"].modules()}
    assert "BatchNorm2d" not in kinds and "GroupNorm" in kinds and "Sigmoid" not in kinds
    assert "BatchNorm2d" not in {
        type(m).__name__ for m in ganzoo.create("wgan-gp", critic_norm="none").nets["D"].modules()
    }
    points = ganzoo.create("wgan-gp", dim=2)  # an MLP critic
    for critic, x in ((model.nets["D"], torch.randn(64, 1, 32, 32)), (points.nets["D"], torch.randn(64, 2))):
        last = [m for m in critic.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))][-1]
        seen = []
        # seen bound now: each iteration's hook appends to that iteration's list
        last.register_forward_hook(lambda module, args, out, seen=seen: seen.append(out))
        with torch.no_grad():
            last.weight.mul_(1000)  # scores far from 0 either way: a squashing output would show
            scores = critic(x)
        assert scores.shape == (64,)
        assert torch.equal(scores, seen[0].flatten())  # the score is the last layer's output, nothing after it
        assert scores.abs().max() > 1  # unbounded, not probabilities in [0, 1] (nor tanh's [-1, 1])
    assert points.sample(5, seed=1).shape == (5, 2)


def test_vanilla_mlp_for_images_and_points():
    img = ganzoo.create("vanilla")
    assert img.sample(2, seed=0).shape == (2, 1, 28, 28)
    pts = ganzoo.create("vanilla", dim=2, g_hidden=[64, 64], d_hidden=[64, 64])
    assert pts.config.g_hidden == (64, 64)  # lists from JSON become the dataclass's tuples
    assert pts.sample(7, seed=0).shape == (7, 2)
    normed = ganzoo.create("vanilla", g_hidden=[32, 64], g_norm="batch")
    norms = [m for m in normed.nets["G"].modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert [m.num_features for m in norms] == [32, 64]  # hidden layers only, none on the output
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in img.nets["G"].modules())
    assert normed.sample(3, seed=0).shape == (3, 1, 28, 28)


def test_dcgan_two_time_scale_learning_rates():
    model = ganzoo.create("dcgan", image_size=16, ngf=8, ndf=8, lr=1e-4, lr_d=4e-4)
    optimizers = model.variant.load_step()(model.config).optimizers(model.nets)
    assert optimizers["D"].param_groups[0]["lr"] == 4e-4 and optimizers["G"].param_groups[0]["lr"] == 1e-4
    same = ganzoo.create("dcgan", image_size=16, ngf=8, ndf=8, lr=3e-4)
    optimizers = same.variant.load_step()(same.config).optimizers(same.nets)
    assert {opt.param_groups[0]["lr"] for opt in optimizers.values()} == {3e-4}  # lr_d 0 = one rate
    with pytest.raises(ConfigError, match="lr_d must be >= 0"):
        ganzoo.create("dcgan", lr_d=-1e-4)


def test_whole_numbers_given_for_float_fields_become_floats():
    config = ganzoo.create("dcgan", image_size=16, ngf=8, ndf=8, r1=1, lr=1).config
    assert type(config.r1) is float and type(config.lr) is float and config.r1 == 1.0
    assert type(config.ngf) is int  # int fields stay ints


@pytest.mark.parametrize("variant", ["vanilla", "dcgan", "wgan-gp"])
def test_sampling_is_seeded(variant):
    model = ganzoo.create(variant, image_size=32, channels=1) if variant != "vanilla" else ganzoo.create(variant)
    a, b = model.sample(6, seed=123), model.sample(6, seed=123)
    assert torch.equal(a, b)
    assert not torch.equal(a, model.sample(6, seed=124))
    # a sample does not depend on its batch-mates
    assert torch.allclose(model.sample(6, seed=123, batch_size=2), a, atol=1e-6)


@pytest.mark.parametrize(
    "variant,bad,message",
    [
        ("dcgan", {"image_size": 48}, "image_size=48 cannot be made by this architecture"),
        ("dcgan", {"image_size": -64}, "image_size must be a positive integer"),
        ("dcgan", {"channels": 2}, "channels must be one of 1, 3"),
        ("dcgan", {"nz": 0}, "nz must be a positive number"),
        ("dcgan", {"decay_start": 1.5}, r"decay_start must be in \[0, 1\], got 1.5"),
        ("dcgan", {"real_label": 0.4}, r"real_label must be in \(0.5, 1\]"),
        ("dcgan", {"r1": -1.0}, r"r1 must be >= 0 \(0 = no penalty\), got -1.0"),
        ("wgan-gp", {"gp_lambda": -1}, r"gp_lambda must be >= 0, got -1.0"),
        ("cyclegan", {"pool_size": -1}, r"pool_size must be >= 0, got -1"),
        ("vanilla", {"decay_start": -0.1}, r"decay_start must be in \[0, 1\]"),
        ("vanilla", {"g_norm": "layer"}, "g_norm must be one of 'none', 'batch'"),
        ("dcgan", {"imagesize": 32}, "unknown config key 'imagesize' for variant 'dcgan'; did you mean 'image_size'"),
        ("wgan-gp", {"critic_norm": "batch"}, "critic_norm must be one of 'layer', 'none'"),
        ("vanilla", {"loss": "hinge"}, "loss must be one of 'non-saturating', 'minimax'"),
        ("cyclegan", {"image_size": 30}, "multiple of 4"),
        ("cyclegan", {"betas": (0.5, 1.5)}, "betas must be two numbers in"),
    ],
)
def test_bad_config_is_a_clear_error(variant, bad, message):
    with pytest.raises(ConfigError, match=message):
        ganzoo.create(variant, **bad)


def test_unknown_variant_suggests():
    with pytest.raises(ganzoo.UnknownNameError, match="did you mean 'wgan-gp'"):
        ganzoo.create("wgan_gp")
