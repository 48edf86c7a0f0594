"""BigGAN: the layouts against the reference implementations' parameter counts, the conformance kit, the
truncated normal, and the BigGAN-deep importer against an independent forward written from upstream's model.py.

Upstream sources read for this file (facts only):
- ajbrock/BigGAN-PyTorch (BigGAN.py, BigGANdeep.py, layers.py, utils.py's parser defaults, scripts/*.sh);
- huggingface/pytorch-pretrained-BigGAN (pytorch_pretrained_biggan/model.py, config.py, utils.py,
  convert_tf_to_pytorch.py: the BigGAN128/256/512 configs).
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from ganzoo_biggan import DEEP, imagenet_classes
from ganzoo_biggan import models as biggan_models
from ganzoo_biggan.config import BigGANConfig
from ganzoo_biggan.importers import convert_pretrained_biggan_deep
from ganzoo_biggan.step import orthogonal_penalty

import ganzoo
from ganzoo import testing
from ganzoo.cli import cli
from ganzoo.config import ConfigError
from ganzoo.hub import WeightsError
from ganzoo.importers import convert

from .conftest import register_entry, sha256_of


def _count(monkeypatch, **config) -> tuple[int, int]:
    """G's and D's parameters, built on the meta device. Spectral norm adds buffers (u, v), no parameters,
    so it is left out here: its 15 power iterations at build are slow on the meta device."""
    monkeypatch.setattr(biggan_models, "spectral_norm", lambda layer, eps: layer)
    with torch.device("meta"):
        nets = biggan_models.build(BigGANConfig(**config))
    return tuple(sum(p.numel() for p in nets[n].parameters()) for n in ("G", "D"))


# Each number below was counted by building the upstream class (parameters only, buffers excluded) with the
# arguments its script passes; the config beside it is ours for the same network.
REFERENCE_COUNTS = [
    # BigGAN-PyTorch's CIFAR-10 run (scripts/launch_cifar_ema.sh over utils.py's defaults: G_ch = D_ch = 64,
    # dim_z 128, no shared embedding, no hierarchical z, G_attn = D_attn = "0", 10 classes): BigGAN.py
    (
        dict(image_size=32, g_ch=64, d_ch=64, nz=128, shared_dim=0, hier=False, attn=0, num_classes=10),
        4_304_387,
        4_207_361,
    ),
    # BigGAN-PyTorch's ImageNet 128x128 run (scripts/launch_BigGAN_bs256x8.sh: G_ch = D_ch = 96, dim_z 120,
    # shared_dim 128, hier, attention at 64): BigGAN.py; the paper's Table 4 rounds them to 70.4M and 88.0M
    (dict(image_size=128, num_classes=1000), 70_433_988, 87_982_370),
    # BigGAN-PyTorch's BigGAN-deep 128x128 (scripts/launch_BigGAN_deep.sh: G_ch = D_ch = 128, depth 2, dim_z 128,
    # shared_dim 128, attention at 64): BigGANdeep.py; the paper's BigGAN-deep G and D: 50.4M and 34.6M
    (dict(image_size=128, arch="deep", num_classes=1000), 50_244_484, 34_590_210),
]


@pytest.mark.parametrize("config, g_params, d_params", REFERENCE_COUNTS)
def test_parameter_counts_equal_the_reference_implementation(monkeypatch, config, g_params, d_params):
    assert _count(monkeypatch, **config) == (g_params, d_params)


@pytest.mark.parametrize("size, params", [(128, 50_388_609), (256, 55_880_833), (512, 56_163_905)])
def test_deep_generators_equal_pytorch_pretrained_biggans(monkeypatch, size, params):
    """pytorch-pretrained-BigGAN's BigGAN(BigGAN{128,256,512}) counted from model.py: the same G as BigGANdeep.py's
    but for a to-RGB conv of 128 outputs (3 of them used); its README rounds them to 50.4M, 55.9M, 56.2M."""
    config = ganzoo.info(f"biggan-deep-{size}").config  # the catalog entry's: rgb_ch 128, n_stats 51, ...
    assert config["arch"] == "deep" and _count(monkeypatch, **config)[0] == params == DEEP[size][0]
    assert ganzoo.info(f"biggan-deep-{size}").source["parameters"] == params


# ---- the conformance kit ---------------------------------------------------------------------------------

TINY = dict(image_size=32, channels=1, g_ch=4, d_ch=4, num_classes=10)


@pytest.mark.parametrize("arch", ["resnet", "deep"])
def test_biggan_passes_the_conformance_kit(tmp_path, arch):
    assert testing.run_all("biggan", tmp_path, sizes=((32, 1), (32, 3)), arch=arch, **TINY) == [
        "registration",
        "import-is-light",
        "networks",
        "sampling",
        "training",
        "save/load",
        "export",
        "resume",
    ]


def test_config_refuses_what_cannot_be_built():
    with pytest.raises(ConfigError, match="image_size must be one of 32, 64, 128, 256, 512"):
        BigGANConfig(image_size=48)
    with pytest.raises(ConfigError, match=r"nz=100 must split into 6 equal chunks .* use e.g. nz=120"):
        BigGANConfig(image_size=128, nz=100)
    with pytest.raises(ConfigError, match="shared_dim=0 .* needs arch=resnet and hier=false"):
        BigGANConfig(shared_dim=0)
    with pytest.raises(ConfigError, match="attention block at 64x64 4 channels; it needs 8"):
        BigGANConfig(image_size=64, arch="deep", g_ch=2, attn=64)
    with pytest.raises(ConfigError, match="num_classes must be a whole number >= 1"):
        BigGANConfig(num_classes=0)
    paper = BigGANConfig(image_size=128)  # the paper's 128x128 BigGAN
    assert (paper.nz, paper.g_ch, paper.d_ch, paper.attn, paper.n_dis, paper.lr, paper.lr_d, paper.betas) == (
        120,
        96,
        96,
        64,
        2,
        5e-5,
        2e-4,
        (0.0, 0.999),
    )
    assert (BigGANConfig(arch="deep", image_size=256).nz, BigGANConfig(image_size=256).nz) == (128, 140)


def test_the_non_saturating_loss_trains_and_alone_takes_label_smoothing(tmp_path):
    with pytest.raises(
        ConfigError, match="real_label=0.9 cannot be used here: the hinge loss has margins.*non-saturating"
    ):
        BigGANConfig(real_label=0.9, **TINY)
    with pytest.raises(ConfigError, match="loss must be one of 'hinge', 'non-saturating', got 'ls'"):
        BigGANConfig(loss="ls", **TINY)
    run = tmp_path / "ns"
    done = CliRunner().invoke(
        cli,
        ["train", "biggan", "--data", "mnist-5k", "-c", "loss=non-saturating", "-c", "real_label=0.9", "--steps", "3"]
        + [arg for k, v in TINY.items() for arg in ("-c", f"{k}={v}")]
        + ["--batch-size", "8", "--log-every", "1", "--progress", "off", "--out", str(run)],
    )
    assert done.exit_code == 0, done.output
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2, 3]
    assert all(line["loss_g"] > 0 for line in lines)  # softplus(-D(G(z))) > 0; hinge's -D(G(z)) has no sign
    assert json.loads((run / "config.json").read_text())["config"]["loss"] == "non-saturating"


def test_orthogonal_penalty_is_the_papers_off_diagonal_gram_norm():
    torch.manual_seed(0)
    G = biggan_models.build(BigGANConfig(**TINY))["G"]
    expected = 0.0
    for name, p in G.named_parameters():
        if p.dim() >= 2 and not name.startswith("shared."):
            w = p.detach().flatten(1).double()
            gram = w @ w.t()
            expected += float((gram * (1 - torch.eye(len(gram), dtype=torch.float64))).pow(2).sum())
    assert math.isclose(float(orthogonal_penalty(G).detach()), expected, rel_tol=1e-4)
    net = torch.nn.Module()  # orthogonal rows cost nothing, and a shared class embedding is never penalised
    net.layer, net.shared = torch.nn.Linear(8, 4), torch.nn.Embedding(3, 5)
    torch.nn.init.orthogonal_(net.layer.weight)
    assert float(orthogonal_penalty(net).detach()) < 1e-10


# ---- truncation -------------------------------------------------------------------------------------------


def test_the_truncated_latent_is_biggans_published_one():
    """utils.truncated_noise_sample: truncation * truncnorm.rvs(-2, 2): a normal truncated at 2, then scaled."""
    scipy_stats = pytest.importorskip("scipy.stats")
    G = biggan_models.build(BigGANConfig(**TINY))["G"]
    z = G.truncated_latent(4000, torch.Generator().manual_seed(0), 0.4)  # (4000, nz)
    assert z.shape == (4000, G.latent_shape[0]) and float(z.abs().max()) <= 0.8
    values = z.flatten().double().numpy()[:20000]
    assert scipy_stats.kstest(values, scipy_stats.truncnorm(-2, 2, scale=0.4).cdf).pvalue > 0.01
    assert scipy_stats.kstest(values, scipy_stats.truncnorm(-0.4, 0.4).cdf).pvalue < 1e-6  # not a normal cut at t


def test_batch_norm_statistics_follow_the_truncation():
    bn = biggan_models.TruncationBatchNorm(3, 1e-4, affine=True, n_stats=51).eval()
    with torch.no_grad():
        bn.means_by_truncation.copy_(torch.arange(51.0)[:, None].expand(51, 3))  # mean = 50 t
        bn.running_mean.fill_(7.0)
    x = torch.zeros(1, 3, 1, 1)
    for t, mean in ((0.4, 20.0), (1.0, 50.0), (0.41, 20.5)):  # on the grid, and linearly between its points
        assert torch.allclose(bn(x, t), torch.full_like(x, -mean / math.sqrt(1 + 1e-4)), atol=1e-4), t
    assert torch.allclose(bn(x), torch.full_like(x, -7.0 / math.sqrt(1 + 1e-4)))  # no truncation: running stats


def test_sample_with_truncation_uses_biggans_latent_and_statistics():
    model = ganzoo.create("biggan", **TINY)
    drawn = []
    G = model.nets["G"]
    real_forward = G.forward
    G.forward = lambda z, y=None, truncation=None: drawn.append((z, truncation)) or real_forward(z, y, truncation)
    model.sample(4, seed=0, labels=3, truncation=0.4)
    z, t = drawn[0]
    assert t == 0.4 and torch.equal(z, G.truncated_latent(4, torch.Generator().manual_seed(0), 0.4))


def test_imagenet_names_match_case_insensitively_and_a_misspelling_gets_suggestions():
    model = ganzoo.create("biggan", **{**TINY, "channels": 3, "num_classes": 1000})
    model.classes = imagenet_classes()
    assert torch.equal(model.sample(1, seed=0, labels="Golden Retriever"), model.sample(1, seed=0, labels=207))
    # two names differ in case only: the corgi and the sweater; an exact match wins
    assert torch.equal(model.sample(1, seed=0, labels="Cardigan"), model.sample(1, seed=0, labels=264))
    assert torch.equal(model.sample(1, seed=0, labels="cardigan"), model.sample(1, seed=0, labels=474))
    with pytest.raises(ValueError, match="did you mean.*golden retriever"):
        model.sample(1, labels="golden retreiver")


# ---- ImageNet class names -----------------------------------------------------------------------------------


def test_the_imagenet_class_names_are_torchvisions_in_upstreams_index_order():
    """pytorch-pretrained-BigGAN's utils.IMAGENET maps WordNet offsets to indices in increasing offset order
    (n01440764 -> 0, n02099601 -> 207, n15075141 -> 999): ILSVRC-2012's order, torchvision's too."""
    from torchvision.models import ResNet50_Weights

    names = imagenet_classes()
    assert names == ResNet50_Weights.IMAGENET1K_V1.meta["categories"]
    assert (names[0], names[207], names[999], len(names)) == ("tench", "golden retriever", "toilet tissue", 1000)


# ---- pytorch-pretrained-BigGAN's BigGAN-deep: an upstream-layout state dict, served, imported, compared ----

# convert_tf_to_pytorch.py's BigGAN128/256/512 layers: (up-sample?, in, out) in units of channel_width;
# attention_layer_position=8 in all three (the attention module sits before GenBlock 8 in the layer list)
UPSTREAM_LAYERS = {
    128: [
        (False, 16, 16),
        (True, 16, 16),
        (False, 16, 16),
        (True, 16, 8),
        (False, 8, 8),
        (True, 8, 4),
        (False, 4, 4),
        (True, 4, 2),
        (False, 2, 2),
        (True, 2, 1),
    ],
    256: [
        (False, 16, 16),
        (True, 16, 16),
        (False, 16, 16),
        (True, 16, 8),
        (False, 8, 8),
        (True, 8, 8),
        (False, 8, 8),
        (True, 8, 4),
        (False, 4, 4),
        (True, 4, 2),
        (False, 2, 2),
        (True, 2, 1),
    ],
    512: [
        (False, 16, 16),
        (True, 16, 16),
        (False, 16, 16),
        (True, 16, 8),
        (False, 8, 8),
        (True, 8, 8),
        (False, 8, 8),
        (True, 8, 4),
        (False, 4, 4),
        (True, 4, 2),
        (False, 2, 2),
        (True, 2, 1),
        (False, 1, 1),
        (True, 1, 1),
    ],
}
ATTENTION_POSITION, N_STATS, EPS = 8, 51, 1e-4
CH, Z_DIM, CLASSES = 4, 8, 5  # a small channel_width, z_dim (= class_embed_dim) and class count
FISH = ["tench", "goldfish", "great white shark", "tiger shark", "hammerhead shark"]


def _sn(sd, prefix, weight):
    """A layer as torch.nn.utils.spectral_norm keeps it: weight_orig and its u, v vectors (u = W v / |W v|)."""
    v = F.normalize(torch.randn(weight[0].numel()), dim=0)
    sd[f"{prefix}.weight_orig"] = weight
    sd[f"{prefix}.weight_u"] = F.normalize(weight.flatten(1) @ v, dim=0)
    sd[f"{prefix}.weight_v"] = v


def _stats(sd, prefix, c):
    sd[f"{prefix}.running_means"] = 0.2 * torch.randn(N_STATS, c)
    sd[f"{prefix}.running_vars"] = 0.5 + torch.rand(N_STATS, c)


def upstream_state(size, classes=CLASSES, ch=CH, z_dim=Z_DIM, calibrate=True):
    """BigGAN(config).state_dict() of model.py, with random tensors of its names and shapes."""
    sd = OrderedDict()
    cond = 2 * z_dim
    sd["embeddings.weight"] = 0.5 * torch.randn(z_dim, classes)  # nn.Linear(num_classes, z_dim, bias=False)
    sd["generator.gen_z.bias"] = 0.1 * torch.randn(4 * 4 * 16 * ch)
    _sn(sd, "generator.gen_z", torch.randn(4 * 4 * 16 * ch, cond))
    index = 0
    for i, (_, a, b) in enumerate(UPSTREAM_LAYERS[size]):
        if i == ATTENTION_POSITION:
            p, c = f"generator.layers.{index}", ch * a
            shapes = (("theta", (c // 8, c)), ("phi", (c // 8, c)), ("g", (c // 2, c)), ("o_conv", (c, c // 2)))
            for name, shape in shapes:
                _sn(sd, f"{p}.snconv1x1_{name}", torch.randn(*shape, 1, 1))
            sd[f"{p}.gamma"] = torch.tensor([0.7])  # non-zero, so the attention counts
            index += 1
        p, cin, cout = f"generator.layers.{index}", ch * a, ch * b
        mid = cin // 4
        for k, c in enumerate((cin, mid, mid, mid)):
            _stats(sd, f"{p}.bn_{k}", c)
            _sn(sd, f"{p}.bn_{k}.scale", 0.3 * torch.randn(c, cond))
            _sn(sd, f"{p}.bn_{k}.offset", 0.3 * torch.randn(c, cond))
        for k, (o, n, ks) in enumerate(((mid, cin, 1), (mid, mid, 3), (mid, mid, 3), (cout, mid, 1))):
            sd[f"{p}.conv_{k}.bias"] = 0.1 * torch.randn(o)
            _sn(sd, f"{p}.conv_{k}", torch.randn(o, n, ks, ks))
        index += 1
    _stats(sd, "generator.bn", ch)
    sd["generator.bn.weight"], sd["generator.bn.bias"] = 1 + 0.1 * torch.randn(ch), 0.1 * torch.randn(ch)
    sd["generator.conv_to_rgb.bias"] = 0.1 * torch.randn(ch)
    _sn(sd, "generator.conv_to_rgb", torch.randn(ch, ch, 3, 3))
    if calibrate:  # statistics of the activations, as DeepMind's
        upstream_forward(sd, size, torch.randn(16, z_dim).clamp(-2, 2), torch.arange(16) % classes, 1.0, record=True)
    return sd


def upstream_forward(sd, size, z, y, truncation, record=False):
    """BigGAN.forward of model.py in eval mode, as plain ops on the state dict: spectral norm from the stored u, v;
    BigGANBatchNorm's statistics picked by modf(truncation / step) as it does; TF's (4, 4, C) gen_z layout.
    ``record``: first store each batch norm's statistics of this batch (varied a little per truncation) in ``sd``,
    so that the random network's activations stay in range."""

    def weight(p):
        w = sd[f"{p}.weight_orig"]
        return w / torch.dot(sd[f"{p}.weight_u"], w.flatten(1) @ sd[f"{p}.weight_v"])

    def stats(p, x):
        if record:
            mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3))  # (C,)
            sd[f"{p}.running_means"] = mean + 0.1 * var.sqrt() * torch.randn(N_STATS, len(mean))
            sd[f"{p}.running_vars"] = var * (1 + 0.2 * torch.rand(N_STATS, len(var)))
        coef, start = math.modf(truncation / (1.0 / (N_STATS - 1)))
        means, variances, start = sd[f"{p}.running_means"], sd[f"{p}.running_vars"], int(start)
        if coef != 0.0:
            return (
                means[start] * coef + means[start + 1] * (1 - coef),
                variances[start] * coef + variances[start + 1] * (1 - coef),
            )
        return means[start], variances[start]

    def cbn(x, p, cond):
        mean, var = stats(p, x)
        gain = 1 + cond @ weight(f"{p}.scale").t()  # (B, C)
        bias = cond @ weight(f"{p}.offset").t()
        return (x - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + EPS) * gain[
            :, :, None, None
        ] + bias[:, :, None, None]

    def conv(x, p, padding=0, bias=True):
        return F.conv2d(x, weight(p), sd[f"{p}.bias"] if bias else None, padding=padding)

    def attention(x, p):
        b, c, h, w = x.shape
        theta = conv(x, f"{p}.snconv1x1_theta", bias=False).view(b, c // 8, h * w)
        phi = F.max_pool2d(conv(x, f"{p}.snconv1x1_phi", bias=False), 2).view(b, c // 8, h * w // 4)
        attn = torch.softmax(torch.bmm(theta.permute(0, 2, 1), phi), dim=-1)
        g = F.max_pool2d(conv(x, f"{p}.snconv1x1_g", bias=False), 2).view(b, c // 2, h * w // 4)
        out = conv(torch.bmm(g, attn.permute(0, 2, 1)).view(b, c // 2, h, w), f"{p}.snconv1x1_o_conv", bias=False)
        return x + sd[f"{p}.gamma"] * out

    embed = sd["embeddings.weight"]  # (z_dim, num_classes)
    cond = torch.cat([z, F.one_hot(y, embed.shape[1]).float() @ embed.t()], dim=1)
    h = F.linear(cond, weight("generator.gen_z"), sd["generator.gen_z.bias"])
    h = h.view(-1, 4, 4, h.shape[1] // 16).permute(0, 3, 1, 2)  # TensorFlow's (4, 4, C) layout
    index = 0
    for i, (up, a, b) in enumerate(UPSTREAM_LAYERS[size]):
        if i == ATTENTION_POSITION:
            h = attention(h, f"generator.layers.{index}")
            index += 1
        p, x0 = f"generator.layers.{index}", h
        h = conv(F.relu(cbn(h, f"{p}.bn_0", cond)), f"{p}.conv_0")
        h = F.relu(cbn(h, f"{p}.bn_1", cond))
        h = conv(F.interpolate(h, scale_factor=2, mode="nearest") if up else h, f"{p}.conv_1", padding=1)
        h = conv(F.relu(cbn(h, f"{p}.bn_2", cond)), f"{p}.conv_2", padding=1)
        h = conv(F.relu(cbn(h, f"{p}.bn_3", cond)), f"{p}.conv_3")
        x0 = x0[:, : x0.shape[1] // 2] if a != b else x0
        h = h + (F.interpolate(x0, scale_factor=2, mode="nearest") if up else x0)
        index += 1
    mean, var = stats("generator.bn", h)
    h = F.batch_norm(h, mean, var, sd["generator.bn.weight"], sd["generator.bn.bias"], training=False, eps=EPS)
    return torch.tanh(conv(F.relu(h), "generator.conv_to_rgb", padding=1)[:, :3])


@pytest.mark.parametrize("size", [128, 256, 512])
def test_the_catalog_entries_read_upstreams_full_size_layouts(size):
    """The importer's config of a full-size file (channel_width 128, z_dim 128, 1,000 classes; shapes only, on the
    meta device) is the catalog entry's, and its parameters are upstream's count."""
    with torch.device("meta"):
        sd = upstream_state(size, classes=1000, ch=128, z_dim=128, calibrate=False)
    converted = convert_pretrained_biggan_deep(sd)
    assert converted.config == ganzoo.info(f"biggan-deep-{size}").config
    buffers = ("weight_u", "weight_v", "running_means", "running_vars")
    assert sum(v.numel() for k, v in sd.items() if not k.endswith(buffers)) == DEEP[size][0]
    assert (
        sum(
            v.numel()
            for k, v in converted.tensors.items()
            if not k.endswith(("._u", "._v", "running_mean", "running_var", "num_batches_tracked", "_by_truncation"))
        )
        == DEEP[size][0]
    )
    assert converted.data["classes"][207] == "golden retriever"


def _serve_and_register(folder, base, size, name, classes=CLASSES):
    """Save an upstream-layout state dict where the loopback server serves it; a catalog entry pinning it
    (the class names of a 1,000-class file come from the importer: ImageNet's)."""
    torch.manual_seed(size)
    sd = upstream_state(size, classes)
    path = folder / f"biggan-deep-{size}-pytorch_model.bin"
    torch.save(sd, path)
    config = {
        "arch": "deep",
        "image_size": size,
        "g_ch": CH,
        "nz": Z_DIM,
        "shared_dim": Z_DIM,
        "num_classes": classes,
        "rgb_ch": CH,
        "n_stats": N_STATS,
        "attn": 64,
        "bn_eps": EPS,
        "sn_eps": EPS,
    }

    register_entry(
        f"test-{name}",
        name=name,
        variant="biggan",
        dataset="folder:ROOT",
        config=config,
        license="Apache-2.0",
        source={
            "importer": "pretrained-biggan-deep",
            "url": f"{base}/{path.name}",
            "sha256": sha256_of(path),
            **({} if classes == 1000 else {"classes": FISH[:classes]}),
        },
    )
    return sd, path


@pytest.mark.parametrize("size", [128, 256, 512])
def test_pretrained_biggan_deep_imports_to_the_upstream_function_and_loads_offline(http_files, load_spy, size):
    folder, base = http_files
    sd, path = _serve_and_register(folder, base, size, f"biggan-deep-tiny-{size}")
    model = ganzoo.load(f"biggan-deep-tiny-{size}")
    assert load_spy == [True]  # read once, with weights_only=True
    assert model.classes[1] == "goldfish" and model.num_classes == CLASSES
    G = model.nets["G"].eval()
    torch.manual_seed(1)
    z, y = 0.4 * torch.randn(2, Z_DIM).clamp(-2, 2), torch.tensor([1, 4])
    for truncation in (0.4, 1.0):  # two sets of recorded statistics
        with torch.no_grad():
            ours, theirs = G(z, y, truncation=truncation), upstream_forward(sd, size, z, y, truncation)
        assert ours.shape == (2, 3, size, size)
        assert 0.05 < float(theirs.std()) and float((theirs.abs() > 0.99).float().mean()) < 0.5  # not saturated
        # the same operations, some in another order (a fused batch norm): measured at most 1.7e-5 (512's 14 blocks)
        assert torch.allclose(ours, theirs, atol=1e-4), float((ours - theirs).abs().max())
    with torch.no_grad():
        assert torch.allclose(G(z, y), upstream_forward(sd, size, z, y, 1.0), atol=1e-4)  # none: truncation 1's

    load_spy.clear()
    path.unlink()  # later loads need neither the network nor the pickle
    again = ganzoo.load(f"biggan-deep-tiny-{size}")
    assert load_spy == []
    assert torch.equal(again.sample(2, seed=3, labels="goldfish"), model.sample(2, seed=3, labels=1))


def test_a_file_with_another_hash_is_refused_before_it_is_unpickled(http_files, load_spy):
    folder, base = http_files
    _, path = _serve_and_register(folder, base, 128, "biggan-deep-tiny-tampered")
    torch.save(upstream_state(128, calibrate=False), path)  # other weights behind the pinned URL
    with pytest.raises(
        WeightsError,
        match=r"has sha256 [0-9a-f]{16,64}\.\.\., not the pinned [0-9a-f]{64}: it is not the "
        r"published file \(tampered or corrupt\), so it was not opened",
    ):
        ganzoo.load("biggan-deep-tiny-tampered")
    assert load_spy == []  # never unpickled


def _drop(sd, key):
    del sd[key]


def _add(sd, key):
    sd[key] = torch.zeros(3)


def _reshape(sd, key):
    sd[key] = torch.zeros(sd[key].shape[0] + 1, *sd[key].shape[1:])


@pytest.mark.parametrize(
    "edit, key, message",
    [
        (_drop, "generator.layers.3.bn_2.scale.weight_v", "lacks tensor 'generator.layers.3.bn_2.scale.weight_v'"),
        (_drop, "generator.bn.running_vars", "lacks tensor 'generator.bn.running_vars'"),
        (_add, "generator.layers.0.bn_0.running_mean", "has unexpected tensor 'generator.layers.0.bn_0.running_mean'"),
        (
            _reshape,
            "generator.layers.2.conv_1.bias",
            (
                "tensor 'generator.layers.2.conv_1.bias' gives G.blocks.2.c2.bias "
                r"of shape \(17,\), but .* needs \(16,\)"
            ),
        ),
        (_drop, "generator.layers.8.gamma", r"layers .* with attention at \[\]"),
    ],
)
def test_conversion_is_strict_and_names_the_upstream_tensor(edit, key, message):
    torch.manual_seed(0)
    sd = upstream_state(128)
    edit(sd, key)
    with pytest.raises(WeightsError, match=message):
        convert("pretrained-biggan-deep", sd)


def test_the_catalog_entries_need_no_download_to_describe(monkeypatch):
    from click.testing import CliRunner

    from ganzoo.cli import cli

    def no_network(*args, **kwargs):
        raise AssertionError("describing a catalog entry downloaded something")

    monkeypatch.setattr("ganzoo.importers.fetch", no_network)
    listed = CliRunner().invoke(cli, ["list"])
    assert listed.exit_code == 0, listed.output
    assert all(name in listed.output for name in ("biggan", "biggan-deep-128", "biggan-deep-256", "biggan-deep-512"))
    shown = CliRunner().invoke(cli, ["info", "biggan-deep-256"])
    assert shown.exit_code == 0, shown.output
    for text in (
        "Apache-2.0",
        "55880833",
        "biggan-deep-256-pytorch_model.bin",
        "measured by open-mmlab/mmagic on this very converted file",
        "5900ef4065047e3aa0d1b66197b7f2664dceb59b27080e414ad57e203c485bc5",
    ):
        assert text in shown.output, text


def test_sample_command_draws_a_named_imagenet_class_from_an_imported_file(tmp_path, http_files):
    from click.testing import CliRunner
    from PIL import Image

    from ganzoo.cli import cli

    folder, base = http_files
    _serve_and_register(folder, base, 128, "biggan-deep-tiny-imagenet", classes=1000)
    out = tmp_path / "retrievers.png"
    result = CliRunner().invoke(
        cli,
        [
            "sample",
            "biggan-deep-tiny-imagenet",
            "--label",
            "golden retriever",
            "--truncation",
            "0.4",
            "-n",
            "4",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert Image.open(out).size[0] > 2 * 128  # a grid of 4 128x128 images
    model = ganzoo.load("biggan-deep-tiny-imagenet")  # from the cache now
    assert model.classes == imagenet_classes() and model.classes.index("golden retriever") == 207
    assert torch.equal(model.sample(2, seed=0, labels="golden retriever"), model.sample(2, seed=0, labels=207))


# ---- PyTorch-StudioGAN's BigGAN (big_resnet, CIFAR-10's 32x32 layout) from the loopback Hub --------------------

STUDIOGAN_REPO = "Mingguksky/PyTorch-StudioGAN"
STUDIOGAN_FILE = (
    "studiogan_official_ckpt/CIFAR10_tailored/CIFAR10-BigGAN-train-TINY/model=G_ema-best-weights-step=8.pth"
)
SG_DIM, SG_CHUNK, SG_SHARED, SG_CLASSES = 4, 5, 8, 3  # g_conv_dim (widths 4x it at 32x32), z chunk, shared_dim, K


def studiogan_state():
    """big_resnet.Generator(img_size=32, attn_g_loc=[2], g_cond_mtd="cBN").state_dict(), random tensors."""
    sd, width, affine = OrderedDict(), 4 * SG_DIM, SG_SHARED + SG_CHUNK
    sd["linear0.bias"] = 0.1 * torch.randn(16 * width)
    _sn(sd, "linear0", torch.randn(16 * width, SG_CHUNK))
    sd["shared.weight"] = 0.5 * torch.randn(SG_CLASSES, SG_SHARED)
    for i in range(4):
        p = f"blocks.{i}.0"
        if i == 2:  # attn_g_loc [2]: after the second GenBlock
            shapes = (
                ("theta", (width // 8, width)),
                ("phi", (width // 8, width)),
                ("g", (width // 2, width)),
                ("attn", (width, width // 2)),
            )
            for name, shape in shapes:
                _sn(sd, f"{p}.conv1x1_{name}", torch.randn(*shape, 1, 1))
            sd[f"{p}.sigma"] = torch.tensor([0.5])
            continue
        for bn in ("bn1", "bn2"):
            sd[f"{p}.{bn}.bn.running_mean"] = 0.1 * torch.randn(width)
            sd[f"{p}.{bn}.bn.running_var"] = 1 + torch.rand(width)
            sd[f"{p}.{bn}.bn.num_batches_tracked"] = torch.tensor(1000)
            _sn(sd, f"{p}.{bn}.gain", 0.3 * torch.randn(width, affine))
            _sn(sd, f"{p}.{bn}.bias", 0.3 * torch.randn(width, affine))
        for conv, k in (("conv2d0", 1), ("conv2d1", 3), ("conv2d2", 3)):
            sd[f"{p}.{conv}.bias"] = 0.1 * torch.randn(width)
            _sn(sd, f"{p}.{conv}", torch.randn(width, width, k, k))
    sd["bn4.weight"], sd["bn4.bias"] = 0.15 + 0.01 * torch.randn(width), 0.1 * torch.randn(width)  # unsaturated tanh
    sd["bn4.running_mean"], sd["bn4.running_var"] = 0.1 * torch.randn(width), 1 + torch.rand(width)
    sd["bn4.num_batches_tracked"] = torch.tensor(1000)
    sd["conv2d5.bias"] = 0.1 * torch.randn(3)
    _sn(sd, "conv2d5", torch.randn(3, width, 3, 3))
    studiogan_forward(sd, torch.randn(16, 4 * SG_CHUNK), torch.arange(16) % SG_CLASSES, record=True)
    return sd


def studiogan_forward(sd, z, y, record=False):
    """big_resnet.Generator.forward in eval mode on the raw state dict (ops.ConditionalBatchNorm2d, SelfAttention);
    ``record``: first store each batch norm's statistics of this batch as its running ones (activations in range)."""

    def stats(x, p):
        if record:
            sd[f"{p}.running_mean"], sd[f"{p}.running_var"] = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3))
        return sd[f"{p}.running_mean"], sd[f"{p}.running_var"]

    def weight(p):
        w = sd[f"{p}.weight_orig"]
        return w / torch.dot(sd[f"{p}.weight_u"], w.flatten(1) @ sd[f"{p}.weight_v"])

    def cbn(x, p, affine):
        x = F.batch_norm(x, *stats(x, f"{p}.bn"), training=False, eps=1e-4)
        gain, bias = 1 + affine @ weight(f"{p}.gain").t(), affine @ weight(f"{p}.bias").t()  # (B, C)
        return x * gain[:, :, None, None] + bias[:, :, None, None]

    def conv(x, p, padding=0, bias=True):
        return F.conv2d(x, weight(p), sd[f"{p}.bias"] if bias else None, padding=padding)

    zs = z.split(SG_CHUNK, dim=1)
    affines = iter([torch.cat([sd["shared.weight"][y], zc], dim=1) for zc in zs[1:]])
    act = F.linear(zs[0], weight("linear0"), sd["linear0.bias"]).view(z.shape[0], -1, 4, 4)
    for i in range(4):
        p = f"blocks.{i}.0"
        if i == 2:
            b, c, h, w = act.shape
            theta = conv(act, f"{p}.conv1x1_theta", bias=False).view(b, c // 8, h * w)
            phi = F.max_pool2d(conv(act, f"{p}.conv1x1_phi", bias=False), 2).view(b, c // 8, h * w // 4)
            attn = torch.softmax(torch.bmm(theta.permute(0, 2, 1), phi), dim=-1)
            g = F.max_pool2d(conv(act, f"{p}.conv1x1_g", bias=False), 2).view(b, c // 2, h * w // 4)
            attn_g = conv(torch.bmm(g, attn.permute(0, 2, 1)).view(b, c // 2, h, w), f"{p}.conv1x1_attn", bias=False)
            act = act + sd[f"{p}.sigma"] * attn_g
            continue
        affine = next(affines)
        x = conv(F.interpolate(F.relu(cbn(act, f"{p}.bn1", affine)), scale_factor=2), f"{p}.conv2d1", padding=1)
        x = conv(F.relu(cbn(x, f"{p}.bn2", affine)), f"{p}.conv2d2", padding=1)
        act = x + conv(F.interpolate(act, scale_factor=2), f"{p}.conv2d0")
    act = F.batch_norm(act, *stats(act, "bn4"), sd["bn4.weight"], sd["bn4.bias"], training=False, eps=1e-4)
    return torch.tanh(conv(F.relu(act), "conv2d5", padding=1))


def test_studiogan_biggan_from_the_hub_computes_the_upstream_function(tmp_path, hub, monkeypatch, load_spy):
    from huggingface_hub import HfApi

    monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
    torch.manual_seed(0)
    sd = studiogan_state()
    path = tmp_path / "g.pth"
    torch.save({"state_dict": sd, "epoch": 3}, path)
    api = HfApi(endpoint=hub.endpoint, token=False)
    api.create_repo(STUDIOGAN_REPO)
    api.upload_file(path_or_fileobj=str(path), path_in_repo=STUDIOGAN_FILE, repo_id=STUDIOGAN_REPO)
    config = {
        "image_size": 32,
        "g_ch": SG_DIM,
        "nz": 4 * SG_CHUNK,
        "shared_dim": SG_SHARED,
        "num_classes": SG_CLASSES,
        "attn": 16,
        "bn_eps": 1e-4,
    }

    register_entry(
        "test-biggan-tiny-studiogan",
        name="biggan-tiny-studiogan",
        variant="biggan",
        dataset="cifar10:ROOT",
        config=config,
        source={
            "importer": "studiogan-biggan",
            "hub": STUDIOGAN_REPO,
            "file": STUDIOGAN_FILE,
            "sha256": sha256_of(path),
            "classes": ["a", "b", "c"],
        },
    )
    model = ganzoo.load("biggan-tiny-studiogan")
    assert load_spy == [True] and model.classes == ["a", "b", "c"]
    z, y = torch.randn(4, 4 * SG_CHUNK), torch.tensor([0, 1, 2, 1])
    with torch.no_grad():
        ours, theirs = model.nets["G"](z, y), studiogan_forward(sd, z, y)
    assert 0.05 < float(theirs.std()) and float((theirs.abs() > 0.99).float().mean()) < 0.5  # not saturated
    assert torch.allclose(ours, theirs, atol=1e-5), float((ours - theirs).abs().max())


def test_studiogan_biggan_conversion_is_strict():
    torch.manual_seed(0)
    for edit, key, message in (
        (_drop, "blocks.3.0.bn2.gain.weight_u", "lacks tensor 'blocks.3.0.bn2.gain.weight_u'"),
        (_add, "blocks.0.0.bn1.extra", "has unexpected tensor 'blocks.0.0.bn1.extra'"),
        (_reshape, "blocks.1.0.conv2d1.bias", "gives G.blocks.1.c1.bias of shape"),
    ):
        sd = studiogan_state()
        edit(sd, key)
        with pytest.raises(WeightsError, match=message):
            convert("studiogan-biggan", {"state_dict": sd})
