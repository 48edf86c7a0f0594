"""ONNX export: onnxruntime gives what torch gives (1e-4 max abs) for every built-in generator family."""

from __future__ import annotations

import json
import math

import pytest
import torch
from click.testing import CliRunner
from torch import nn

import ganzoo
from ganzoo.latent import draw_z

onnx = pytest.importorskip("onnx", reason="ONNX export needs the export extra: pip install 'torch-ganzoo[export]'")
pytest.importorskip("onnxruntime", reason="the export checks run the file with onnxruntime (the export extra)")
pytest.importorskip("onnxscript", reason="torch's dynamo ONNX exporter needs onnxscript (the export extra)")

from ganzoo.export import ExportError, check_export, export_command, export_onnx, run_onnx  # noqa: E402

ATOL = 1e-4
BATCHES = (1, 7)
TINY = {  # one small model per family, built with ganzoo.create
    "vanilla": dict(image_size=8, channels=1, nz=8, g_hidden=[16, 16], d_hidden=[16]),
    "vanilla-points": dict(dim=2, nz=4, g_hidden=[16], d_hidden=[16]),
    "dcgan": dict(image_size=16, channels=1, nz=8, ngf=8, ndf=8),
    "wgan-gp": dict(image_size=16, channels=3, nz=8, ngf=8, ndf=8),
    "sngan": dict(image_size=32, channels=1, num_classes=10, g_ch=8, d_ch=8, nz=16),
    "stylegan2": dict(
        image_size=16, channels=1, z_dim=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=16
    ),
    "biggan": dict(image_size=32, channels=1, g_ch=4, d_ch=4, num_classes=10, attn=16),  # attention, SN in G
    "biggan-deep": dict(image_size=32, channels=3, g_ch=4, d_ch=4, num_classes=10, arch="deep"),
    "cyclegan": dict(image_size=32, channels=1, ngf=4, ndf=4, n_blocks=1),
    "pix2pix": dict(image_size=32, channels=3, ngf=4, ndf=4),
}


def _tiny(key: str) -> ganzoo.GanModel:
    """A tiny model with non-trivial batch-norm statistics and mean w, so eval-mode behaviour is exercised."""
    torch.manual_seed(0)
    model = ganzoo.create(key.split("-points")[0].split("-deep")[0], **TINY[key])
    for m in model.nets.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.normal_(0, 0.5)
            m.running_var.uniform_(0.5, 2.0)
        if m.__class__.__name__ == "MappingNetwork":
            m.w_avg.normal_()
    return model.to("cpu")


def _latents(model: ganzoo.GanModel, n: int, seed: int) -> torch.Tensor:
    """The z that model.sample(n, seed=seed) draws, flattened as the exported graph takes it: (n, D)."""
    G = model.nets["G"]
    return draw_z(n, tuple(G.latent_shape), torch.Generator().manual_seed(seed)).reshape(n, -1)


def _check_sampler(model: ganzoo.GanModel, path, truncation: float | None = None) -> None:
    """The exported file equals model.sample (the same latents, labels, truncation) at batch 1 and 7."""
    task = model.task
    for n in BATCHES:
        feeds = {"z": _latents(model, n, seed=n)}
        labels = None
        if task.conditional:
            labels = [(3 * i + 1) % task.num_classes for i in range(n)]
            feeds["labels"] = torch.tensor(labels, dtype=torch.int64)
        if truncation is not None or getattr(model.nets["G"], "truncation_space", "z") == "w":
            feeds["truncation"] = torch.tensor(1.0 if truncation is None else truncation)
        want = model.sample(n, seed=n, labels=labels, truncation=truncation).numpy()
        got = run_onnx(path, feeds)
        assert got.shape == want.shape
        assert abs(got - want).max() <= ATOL, f"batch {n}: max abs {abs(got - want).max():.3g}"


def _check_translator(model: ganzoo.GanModel, path, direction: str) -> None:
    """The exported file equals model.translate on fixed images at batch 1 and 7."""
    c, s = model.config.channels, model.config.image_size
    for n in BATCHES:
        x = torch.rand((n, c, s, s), generator=torch.Generator().manual_seed(n)) * 2 - 1  # (n, C, S, S)
        want = model.translate(x, direction).numpy()
        got = run_onnx(path, {"image": x})
        assert abs(got - want).max() <= ATOL, f"{direction} batch {n}: max abs {abs(got - want).max():.3g}"


def _meta(path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


@pytest.mark.parametrize("key", [k for k in TINY if k not in ("cyclegan", "pix2pix")])
def test_every_sampling_family_exports_and_onnxruntime_equals_model_sample(key, tmp_path):
    model = _tiny(key)
    path = export_onnx(model, tmp_path / f"{key}.onnx")
    _check_sampler(model, path)
    graph = onnx.load(str(path)).graph
    expected = ["z", "labels"] if model.task.conditional else ["z"]
    if key == "stylegan2":
        expected = ["z", "truncation"]
    assert [i.name for i in graph.input] == expected
    assert [o.name for o in graph.output] == ["points" if key.endswith("points") else "images"]
    z_dims = graph.input[0].type.tensor_type.shape.dim
    assert not z_dims[0].HasField("dim_value") and z_dims[1].dim_value == math.prod(model.nets["G"].latent_shape)


@pytest.mark.parametrize("key", ["cyclegan", "pix2pix"])
def test_translators_export_each_direction_and_onnxruntime_equals_model_translate(key, tmp_path):
    model = _tiny(key)
    directions = model.task.directions(model.nets)
    assert directions == (["a2b", "b2a"] if key == "cyclegan" else ["a2b"])
    for direction in directions:
        path = export_onnx(model, tmp_path / f"{key}-{direction}.onnx", direction=direction)
        _check_translator(model, path, direction)
        assert [i.name for i in onnx.load(str(path)).graph.input] == ["image"]
        assert _meta(path)["direction"] == direction


def test_exporting_a_direction_a_model_lacks_or_a_direction_for_a_sampler_says_why(tmp_path):
    with pytest.raises(ValueError, match="one way only"):
        export_onnx(_tiny("pix2pix"), tmp_path / "x.onnx", direction="b2a")
    with pytest.raises(ExportError, match="only for translators"):
        export_onnx(_tiny("dcgan"), tmp_path / "y.onnx", direction="a2b")
    assert not (tmp_path / "x.onnx").exists() and not (tmp_path / "y.onnx").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dcgan-mnist", "wgan-gp-mnist", "sngan-mnist", "biggan-mnist"])
def test_bundled_samplers_export_exactly(name, tmp_path):
    model = ganzoo.load(name)
    _check_sampler(model, export_onnx(model, tmp_path / "g.onnx", name=name))


@pytest.mark.slow
def test_bundled_cyclegan_exports_both_directions_exactly(tmp_path):
    model = ganzoo.load("cyclegan-mnist-inverted")
    for direction in ("a2b", "b2a"):
        _check_translator(model, export_onnx(model, tmp_path / f"{direction}.onnx", direction=direction), direction)


@pytest.fixture(scope="module")
def stylegan2_mnist(tmp_path_factory):
    model = ganzoo.load("stylegan2-mnist")
    return model, export_onnx(model, tmp_path_factory.mktemp("sg2") / "sg2.onnx", name="stylegan2-mnist")


def test_exported_stylegan2_honours_truncation_as_torch_does(stylegan2_mnist):
    model, path = stylegan2_mnist
    z = _latents(model, 7, seed=7)
    full = run_onnx(path, {"z": z, "truncation": torch.tensor(1.0)})
    half = run_onnx(path, {"z": z, "truncation": torch.tensor(0.5)})
    assert abs(half - full).max() > 0.1  # psi moves the images
    _check_sampler(model, path, truncation=0.5)  # and exactly as model.sample(truncation=0.5) does
    _check_sampler(model, path, truncation=None)
    assert "const" in _meta(path)["noise"]


def test_a_conditional_style_based_generator_exports_with_labels_and_truncation(tmp_path):
    """stylegan2-ada-cifar10's shape of model: labels enter the mapping; onnxruntime equals model.sample."""
    model = ganzoo.create("stylegan2", **TINY["stylegan2"], num_classes=3)
    path = export_onnx(model, tmp_path / "cond.onnx")
    assert [i.name for i in onnx.load(str(path)).graph.input] == ["z", "labels", "truncation"]
    _check_sampler(model, path)
    _check_sampler(model, path, truncation=0.5)


def test_conditional_export_draws_the_asked_digit(tmp_path):
    """The bundled conditional SN-GAN through onnxruntime: the bundled judge reads the digits asked for."""
    from ganzoo.metrics.classifier import requested_digit_scores

    model = ganzoo.load("sngan-mnist")
    path = export_onnx(model, tmp_path / "sngan.onnx", name="sngan-mnist")
    labels = torch.arange(100) % 10
    images = torch.from_numpy(run_onnx(path, {"z": _latents(model, 100, seed=0), "labels": labels}))
    assert abs(images.numpy() - model.sample(100, seed=0, labels=labels.tolist()).numpy()).max() <= ATOL
    assert requested_digit_scores(images, labels)["requested"] >= 0.9  # the card: 0.978 on 1,000 samples
    meta = _meta(path)
    assert json.loads(meta["classes"]) == [str(d) for d in range(10)] and meta["num_classes"] == "10"


def test_metadata_carries_name_variant_config_card_and_opset(stylegan2_mnist):
    model, path = stylegan2_mnist
    meta = _meta(path)
    assert meta["name"] == "stylegan2-mnist" and meta["variant"] == "stylegan2"
    assert json.loads(meta["config"]) == json.loads(json.dumps(model.config_dict(), default=str))
    assert "mnist-5k" in meta["card"] and "recognisable" in meta["card"] and "MIT" in meta["card"]
    assert meta["opset"] == "18" and any(
        o.domain in ("", "ai.onnx") and o.version == 18 for o in onnx.load(str(path)).opset_import
    )
    assert json.loads(meta["inputs"]) == {"z": ["batch", 128], "truncation": []}
    assert meta["output_range"] == "[-1, 1]"


class _SpectralGenerator(nn.Module):
    """A third-party-style generator with spectral norm: only the sampling contract (latent_shape, G(z))."""

    def __init__(self):
        super().__init__()
        self.fc = nn.utils.parametrizations.spectral_norm(nn.Linear(8, 16 * 16))
        self.latent_shape = (8,)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # (B, 8) -> (B, 1, 16, 16)
        return torch.tanh(self.fc(z)).view(-1, 1, 16, 16) * 1.5  # beyond [-1, 1]: the graph clamps


def test_a_generator_following_the_sampling_contract_exports_with_spectral_norm_in_eval_mode(tmp_path):
    model = _tiny("dcgan")
    model.nets["G"] = _SpectralGenerator()
    model.nets["G"].train()
    for _ in range(3):
        model.nets["G"](torch.randn(4, 8))  # power iterations update the stored estimate
    path = export_onnx(model, tmp_path / "sn.onnx")
    _check_sampler(model, path)
    assert model.nets["G"].training  # the user's model is left as it was
    check_export(model)


def test_check_export_passes_for_a_translator_and_fails_loudly_on_a_mismatch(monkeypatch):
    check_export(_tiny("cyclegan"), batches=(2,))
    from ganzoo import export

    def wrong(path, feeds):
        return torch.full((feeds["z"].shape[0], 1, 16, 16), 5.0).numpy()

    monkeypatch.setattr(export, "run_onnx", wrong)
    with pytest.raises(AssertionError, match="differs from torch"):
        check_export(_tiny("dcgan"), batches=(1,))


def test_export_command_writes_a_file_for_a_name(tmp_path):
    out = tmp_path / "dcgan.onnx"
    result = CliRunner().invoke(export_command, ["dcgan-mnist", "--format", "onnx", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "opset 18" in result.output and "z ('batch', 100)" in result.output
    assert _meta(out)["name"] == "dcgan-mnist"


def test_export_command_on_a_published_folder_and_a_translator_direction(tmp_path):
    folder = tmp_path / "my-cyclegan"
    _tiny("cyclegan").save_pretrained(folder)
    out = tmp_path / "b2a.onnx"
    result = CliRunner().invoke(export_command, [str(folder), "--direction", "b2a", "-o", str(out), "--opset", "18"])
    assert result.exit_code == 0, result.output
    meta = _meta(out)
    assert meta["direction"] == "b2a" and meta["name"] == str(folder)


def test_export_command_refuses_clearly(tmp_path):
    runner = CliRunner()
    one_way = ["pix2pix-mnist-thick", "--direction", "b2a", "-o", str(tmp_path / "p.onnx")]
    result = runner.invoke(export_command, one_way)
    assert result.exit_code == 1 and "one way only" in result.output
    result = runner.invoke(export_command, ["no-such-model", "-o", str(tmp_path / "n.onnx")])
    assert result.exit_code == 1 and "unknown pretrained model" in result.output
    result = runner.invoke(export_command, ["dcgan-mnist", "--format", "tflite"])
    assert result.exit_code == 2
    assert not list(tmp_path.glob("*.onnx"))


def test_export_command_on_a_run_folder_at_another_opset(tmp_path):
    run = ganzoo.train(
        "dcgan",
        "mnist-5k",
        steps=2,
        out=str(tmp_path / "run"),
        device="cpu",
        progress="off",
        sample_every=0,
        log_every=1,
        batch_size=4,
        image_size=16,
        channels=1,
        nz=8,
        ngf=8,
        ndf=8,
    )
    out = tmp_path / "run.onnx"
    result = CliRunner().invoke(export_command, [str(run), "-o", str(out), "--opset", "20"])
    assert result.exit_code == 0, result.output
    assert _meta(out)["opset"] == "20" and "mnist-5k" in _meta(out)["card"]
    opsets = [(o.domain, o.version) for o in onnx.load(str(out)).opset_import if o.domain in ("", "ai.onnx")]
    assert opsets == [("", 20)]
    _check_sampler(ganzoo.load(str(run)), out)


class _DataDependentGenerator(nn.Module):
    """Branches in Python on a tensor's value: torch.export cannot trace it into one graph."""

    latent_shape = (8,)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.sum() > 0:
            return torch.ones(z.shape[0], 1, 4, 4)
        return -torch.ones(z.shape[0], 1, 4, 4)


def test_what_cannot_be_exported_is_refused_with_the_reason(tmp_path):
    from ganzoo.model import GanModel
    from ganzoo.tasks import Sampling, Task

    untraceable = _tiny("dcgan")
    untraceable.nets["G"] = _DataDependentGenerator()
    with pytest.raises(ExportError, match="torch.export or the ONNX translation failed"):
        export_onnx(untraceable, tmp_path / "a.onnx")
    conditional_w = _tiny("stylegan2")
    conditional_w.__class__ = type("ConditionalW", (GanModel,), {"task": property(lambda self: Sampling(10))})
    conditional_w.nets["G"].mapping.forward = lambda z, truncation=1.0: z[:, None]  # a mapping without labels
    with pytest.raises(ExportError, match="class-conditional, but its mapping network takes no labels"):
        export_onnx(conditional_w, tmp_path / "b.onnx")
    other_task = _tiny("dcgan")
    other_task.__class__ = type("OtherTask", (GanModel,), {"task": property(lambda self: Task())})
    with pytest.raises(ExportError, match="neither samples from noise nor translates"):
        export_onnx(other_task, tmp_path / "c.onnx")
    assert not list(tmp_path.iterdir())


def test_the_commands_import_without_torch():
    """The CLI registers export_command and demo_command; `ganzoo list` must stay free of torch."""
    import subprocess
    import sys

    code = (
        "import sys; from ganzoo.export import export_command; from ganzoo.demo import demo_command; "
        "print(sorted(m for m in ('torch', 'onnx', 'gradio', 'numpy') if m in sys.modules) or 'clean')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "clean"


def test_a_generator_that_takes_truncation_exports_with_it_fixed(tmp_path):
    """BigGAN with batch-norm statistics recorded per truncation: the file fixes t, and equals model.sample(t)."""
    torch.manual_seed(0)
    model = ganzoo.create("biggan", image_size=32, channels=1, g_ch=4, d_ch=4, num_classes=10, n_stats=3)
    for name, buffer in model.nets["G"].named_buffers():
        if name.endswith("means_by_truncation"):
            buffer.normal_(0, 0.5)
        elif name.endswith("vars_by_truncation"):
            buffer.uniform_(0.5, 2.0)
    fixed = export_onnx(model, tmp_path / "t07.onnx", truncation=0.7)
    plain = export_onnx(model, tmp_path / "plain.onnx")
    G, labels = model.nets["G"], torch.arange(7) % 10
    z = G.truncated_latent(7, torch.Generator().manual_seed(3), 0.7)  # what model.sample(seed=3, truncation=0.7) draws
    got = run_onnx(fixed, {"z": z, "labels": labels})
    want = model.sample(7, seed=3, labels=labels.tolist(), truncation=0.7).numpy()
    assert abs(got - want).max() <= ATOL
    assert abs(run_onnx(plain, {"z": z, "labels": labels}) - got).max() > 1e-3  # other statistics, other images
    assert _meta(fixed)["truncation"].startswith("0.7")
    with pytest.raises(ExportError, match="only shapes the latents"):
        export_onnx(_tiny("dcgan"), tmp_path / "d.onnx", truncation=0.5)
    with pytest.raises(ExportError, match="takes `truncation` as an input"):
        export_onnx(_tiny("stylegan2"), tmp_path / "s.onnx", truncation=0.5)
