"""CUDA checks, run by benchmarks/gpu_check.sh on a GPU machine; skipped where there is no GPU.

With GANZOO_TEST_CUDA=1 a missing GPU is a failure, not a skip, so the GPU check cannot pass
vacuously.
"""

import json
import os

import pytest
import torch

import ganzoo
from ganzoo.engine.checkpoint import list_checkpoints, read_checkpoint

from .engine_probe import NetworkProbe, assert_options_applied

if not torch.cuda.is_available():
    if os.environ.get("GANZOO_TEST_CUDA") == "1":
        raise RuntimeError("GANZOO_TEST_CUDA=1 but torch sees no CUDA device")
    pytest.skip("no CUDA device on this machine (benchmarks/gpu_check.sh runs these on a GPU)", allow_module_level=True)

SMALL = dict(image_size=32, channels=3, ngf=16, ndf=16)
QUIET = dict(progress="off", sample_every=0, device="cuda", batch_size=32, log_every=2)


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_trains_on_cuda(tmp_path, precision):
    run = ganzoo.train("dcgan", "mnist-5k", steps=4, out=tmp_path / precision, precision=precision, **QUIET, **SMALL)
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(torch.isfinite(torch.tensor(r["loss_g"])) for r in lines)
    tensors, header = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    assert any(k.startswith("rng.cuda.") for k in tensors)
    assert tensors["net.G.main.0.weight"].dtype == torch.float32


def test_channels_last_and_compile_on_cuda(tmp_path, monkeypatch):
    from ganzoo_wgan_gp.step import WGANGPStep
    from torch._dynamo.utils import counters

    probe = NetworkProbe(monkeypatch, WGANGPStep)
    counters.clear()
    run = ganzoo.train(
        "wgan-gp",
        "mnist-5k",
        steps=3,
        out=tmp_path / "c",
        precision="bf16",
        channels_last=True,
        compile=True,
        n_critic=2,
        **QUIET,
        **SMALL,
    )
    assert len(probe.of("D")) == 3 * 5 and len(probe.of("G")) == 3 * 3  # per step: 2 critic updates, then G
    assert all(c.output.is_cuda for c in probe.calls)
    assert_options_applied(probe, dtype=torch.bfloat16, channels_last=True, compiled=True)
    assert counters["stats"]["unique_graphs"] >= 2
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [2, 3] and all(torch.isfinite(torch.tensor(r["loss_d"])) for r in lines)


def test_resume_on_cuda_continues(tmp_path):
    ganzoo.train("dcgan", "mnist-5k", steps=2, out=tmp_path / "r", **QUIET, **SMALL)
    run = ganzoo.train(out=tmp_path / "r", steps=4, resume=True, device="cuda")
    _, header = read_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    assert header["iteration"] == 4


def test_sampling_on_cuda_matches_cpu():
    torch.manual_seed(0)
    model = ganzoo.create("dcgan", **SMALL)
    cpu = model.sample(8, seed=3)
    gpu = model.to("cuda").sample(8, seed=3).cpu()
    assert torch.allclose(cpu, gpu, atol=1e-3)


def test_cyclegan_translates_on_cuda(tmp_path):
    run = ganzoo.train(
        "cyclegan",
        "mnist-5k-inverted",
        steps=2,
        out=tmp_path / "cg",
        image_size=32,
        channels=1,
        ngf=8,
        ndf=8,
        **{**QUIET, "batch_size": 4},
    )
    model = ganzoo.load(str(run), device="cuda")
    x = torch.rand(2, 1, 32, 32, device="cuda") * 2 - 1
    assert model.translate(x).shape == x.shape
