"""--sync-bn, --accumulate K and evaluation sharded over a torchrun launch (gloo on the CPU, tiny nets, 16 px)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import ganzoo
from ganzoo.config import ConfigError
from ganzoo.engine import StepContext, TrainOptions, accumulate, syncbn
from ganzoo.engine.checkpoint import read_checkpoint
from ganzoo.engine.files import list_checkpoints
from ganzoo.evaluate import evaluate
from ganzoo.metrics import sharding

QUIET = {"progress": "off", "sample_every": 0, "checkpoint_every": 0, "log_every": 1}
TINY_DCGAN = {"image_size": 16, "channels": 1, "ngf": 8, "ndf": 8}
# vanilla on 2D points, no batch norm, no dropout: every loss is a mean over samples
POINTS = {"nz": 16, "g_hidden": (16,), "d_hidden": (16,), "dropout": 0.0}


def _torchrun(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Two CPU processes under torchrun (gloo), one thread each."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    ranks = [[line for line in proc.stderr.splitlines() if line.startswith(f"[rank{r}]")] for r in (0, 1)]
    assert proc.returncode == 0, "\n".join(line for lines in ranks for line in lines[-12:]) or proc.stderr[-3000:]
    return proc


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(list_checkpoints(run / "checkpoints")[-1])[0]


# ---- one process ------------------------------------------------------------------------------------


def test_the_options_are_checked_and_recorded():
    assert TrainOptions(accumulate=3, sync_bn=True).accumulate == 3
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ConfigError, match="accumulate must be an integer >= 1"):
            TrainOptions(accumulate=bad)
    with pytest.raises(ConfigError, match="sync_bn must be true or false"):
        TrainOptions(sync_bn="yes")


def test_accumulating_two_micro_batches_equals_one_batch_twice_as_large(tmp_path):
    big = ganzoo.train("vanilla", "ring8", steps=3, out=tmp_path / "big", batch_size=32, **QUIET, **POINTS)
    acc = ganzoo.train(
        "vanilla", "ring8", steps=3, out=tmp_path / "acc", batch_size=16, accumulate=2, **QUIET, **POINTS
    )
    half = ganzoo.train("vanilla", "ring8", steps=3, out=tmp_path / "half", batch_size=16, **QUIET, **POINTS)
    w_big, w_acc, w_half = _weights(big), _weights(acc), _weights(half)
    nets = [k for k in w_big if k.startswith("net.")]
    assert len(nets) == 8
    for key in nets:
        torch.testing.assert_close(w_acc[key], w_big[key], rtol=1e-5, atol=1e-6)
    assert any((w_half[k] - w_big[k]).abs().max() > 1e-4 for k in nets)  # the batch size matters: not a no-op
    engine = json.loads((acc / "config.json").read_text())["engine"]
    assert (engine["accumulate"], engine["batch_size"]) == (2, 16)
    lines = [json.loads(x) for x in (acc / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3]  # one step per optimizer update, losses logged
    assert all(r["loss_d"] > 0 for r in lines)


def test_resume_with_accumulation_is_exact(tmp_path):
    opts = {**QUIET, **POINTS, "batch_size": 8, "accumulate": 2, "checkpoint_every": 2}
    straight = ganzoo.train("vanilla", "ring8", steps=4, out=tmp_path / "straight", **opts)
    ganzoo.train("vanilla", "ring8", steps=2, out=tmp_path / "split", **opts)
    split = ganzoo.train(out=tmp_path / "split", resume=True, steps=4)
    a, b = _weights(straight), _weights(split)
    assert a.keys() == b.keys()
    for key in a:  # networks, optimizer moments, RNG states: bit for bit
        assert torch.equal(a[key], b[key]), key
    assert json.loads((split / "config.json").read_text())["engine"]["accumulate"] == 2  # kept on resume


def test_sync_bn_in_one_process_is_a_noted_no_op_kept_on_resume(tmp_path, capfd):
    opts = {**TINY_DCGAN, "batch_size": 8, "sample_every": 0, "checkpoint_every": 0}
    run = ganzoo.train("dcgan", "mnist-5k", steps=1, out=tmp_path / "r", sync_bn=True, progress="on", **opts)
    assert "note: --sync-bn has no effect in one process" in capfd.readouterr().err
    plain = ganzoo.train("dcgan", "mnist-5k", steps=1, out=tmp_path / "p", progress="off", **opts)
    assert all(torch.equal(v, _weights(plain)[k]) for k, v in _weights(run).items() if k.startswith("net."))
    ganzoo.train(out=run, resume=True, steps=2)
    record = json.loads((run / "config.json").read_text())
    assert record["engine"]["sync_bn"] is True and record["resumed"] == [{"step": 1, "engine": {"steps": 2}}]


def test_sync_bn_asks_the_networks():
    opts = TrainOptions(sync_bn=True)
    with pytest.raises(ConfigError, match=r"none of vanilla's networks \(G, D\) has a batch-norm layer"):
        syncbn.prepare(ganzoo.create("vanilla", dropout=0.0).nets, opts, True, True, "vanilla")

    class OwnNorm(nn.BatchNorm2d):  # a batch norm with a forward of its own (BigGAN's truncation statistics)
        def forward(self, x):
            return x

    with pytest.raises(ConfigError, match=r"batch norm G.1 is a OwnNorm, its own kind"):
        syncbn.prepare({"G": nn.Sequential(nn.Conv2d(1, 2, 1), OwnNorm(2))}, opts, True, True, "x")


def test_sync_batch_norm_keeps_the_state_keys_and_tensors_of_batch_norm():
    G = ganzoo.create("dcgan", **TINY_DCGAN).nets["G"]
    before = {k: v.clone() for k, v in G.state_dict().items()}
    params = {id(p) for p in G.parameters()}
    syncbn.convert(G)
    kinds = {type(m) for m in G.modules()}
    assert syncbn.GlobalBatchNorm in kinds and nn.BatchNorm2d not in kinds  # on the CPU; torch's SyncBatchNorm on CUDA
    assert {id(p) for p in G.parameters()} == params  # the same Parameters: optimizers built before still hold them
    after = G.state_dict()
    assert list(after) == list(before)
    assert all(torch.equal(after[k], before[k]) for k in before)
    G.eval()  # one process, eval: plain batch norm on the running statistics
    assert G(torch.randn(2, *G.latent_shape)).shape == (2, 1, 16, 16)


def _toy_context(step_order):
    """A StepContext over two one-weight networks whose step asks for ``step_order(i)`` optimizers in turn."""
    nets = {"D": nn.Linear(1, 1), "G": nn.Linear(1, 1)}
    opts = {n: torch.optim.SGD(net.parameters(), lr=0.1) for n, net in nets.items()}
    task = types.SimpleNamespace(num_classes=0)
    return StepContext(nets, nets, opts, None, torch.device("cpu"), None, None, contextlib.nullcontext, task=task)


def test_micro_batches_that_ask_for_different_updates_are_refused():
    class Uneven(ganzoo.engine.Step):
        def __call__(self, ctx, batch):
            ctx.backward(ctx.models["D"](batch).sum())
            ctx.step("D" if batch.sum() > 0 else "G")

    ctx = _toy_context(None)
    runner = accumulate.Accumulation(2, Uneven(None), "toy")
    with pytest.raises(RuntimeError, match=r"micro-batch 0: D, micro-batch 1: G.*leave out --accumulate"):
        runner.run(Uneven(None), ctx, [torch.ones(2, 1), -torch.ones(2, 1)])

    class Clears(ganzoo.engine.Step):
        def __call__(self, ctx, batch):
            ctx.zero_grad("D")

    with pytest.raises(RuntimeError, match=r"zero_grad\('D'\) would clear the gradients"):
        runner.run(Clears(None), ctx, [torch.ones(2, 1), torch.ones(2, 1)])

    class Whole(ganzoo.engine.Step):
        cannot_accumulate = "its image pool assumes one batch"

    with pytest.raises(ConfigError, match="--accumulate 2: toy's step cannot run on micro-batches: its image pool"):
        accumulate.Accumulation(2, Whole(None), "toy")
    accumulate.Accumulation(1, Whole(None), "toy")  # one batch: nothing to split


def test_sharded_sampling_in_one_process_is_model_sample():
    model = ganzoo.create("dcgan", **TINY_DCGAN)
    assert sharding.share(10, 0, 3) == (0, 3) and sharding.share(10, 2, 3) == (6, 10)
    expected = model.sample(10, seed=3, batch_size=4)
    assert torch.equal(sharding.sample(model, 10, seed=3, labels=None, batch_size=4), expected)


# ---- two processes ----------------------------------------------------------------------------------

DDP_SCRIPT = r"""
import copy, sys, torch, torch.distributed as dist, ganzoo
from torch import nn
from safetensors.torch import save_file
from ganzoo.engine import Trainer, syncbn
from ganzoo.metrics import sharding

out = sys.argv[1]
dist.init_process_group("gloo")  # the engine leaves a group it did not start to its owner
rank, res = dist.get_rank(), {}

# one layer: synced batch norm on each rank's half of a batch against BatchNorm2d on all of it
torch.manual_seed(0)
plain = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
alone = copy.deepcopy(plain)
synced = syncbn.convert(copy.deepcopy(plain))
x, w = torch.randn(8, 3, 6, 6), torch.randn(8, 4, 4, 4)
half = slice(4 * rank, 4 * rank + 4)
mine = x[half].clone().requires_grad_(True)
y = synced(mine)
(y * w[half]).sum().backward()
whole = x.clone().requires_grad_(True)
y_whole = plain(whole)
(y_whole * w).sum().backward()
grad = synced[0].weight.grad.clone()
dist.all_reduce(grad)  # what DDP's sum over the ranks makes of it
alone(x[half])  # plain batch norm on this rank's half: what DDP without --sync-bn does
res.update({"layer.y": y.detach(), "layer.y_whole": y_whole[half].detach(), "layer.x_grad": mine.grad,
            "layer.x_grad_whole": whole.grad[half], "layer.w_grad": grad, "layer.w_grad_whole": plain[0].weight.grad})
for name in ("running_mean", "running_var"):
    res[f"layer.{name}"] = getattr(synced[1], name)
    res[f"layer.{name}_whole"] = getattr(plain[1], name)
    res[f"layer.{name}_alone"] = getattr(alone[1], name)

# rows shared out and gathered back in order
seen = []
full = sharding.sharded(lambda rows: (seen.append(rows.shape[0]), rows * 2)[1], torch.arange(7.0).reshape(7, 1))
res["share.rows"], res["share.full"] = torch.tensor(seen), full
torch.manual_seed(5)
model = ganzoo.create("dcgan", image_size=16, channels=1, ngf=8, ndf=8)
res["share.samples"] = sharding.sample(model, 10, seed=3, labels=None, batch_size=3)

# rank 0 alone runs an action (the bench's training); its failure stops every rank
try:
    sharding.on_main(lambda: 1 / 0, "a division")
except ZeroDivisionError:
    res["main.error"] = torch.tensor(0)
except RuntimeError as exc:
    res["main.error"] = torch.tensor(1 if "rank 0 failed a division" in str(exc) else 2)
res["main.result"] = torch.tensor(sharding.on_main(lambda: 7, "seven") or -1)

# the engine: batch-norm statistics right after each iteration, and the weights
label = None
original = Trainer._one_iteration
def one_iteration(self, *args):
    original(self, *args)
    for n, net in self.raw.items():
        for k, v in [*net.named_parameters(), *net.named_buffers()]:
            res[f"{label}.{n}.{k}"] = v.detach().clone()
    res[f"{label}.kinds"] = torch.tensor([isinstance(m, syncbn.SYNCED) for m in self.raw["D"].modules()])
Trainer._one_iteration = one_iteration
quiet = dict(progress="off", sample_every=0, checkpoint_every=0)
for label, sync in (("sync", True), ("plain", False)):
    ganzoo.train("dcgan", "mnist-5k", steps=2, out=f"{out}/{label}", batch_size=8, sync_bn=sync,
                 image_size=16, channels=1, ngf=8, ndf=8, **quiet)
points = dict(nz=16, g_hidden=(16,), d_hidden=(16,), dropout=0.0, **quiet)
label = "big"
ganzoo.train("vanilla", "ring8", steps=2, out=f"{out}/big", batch_size=16, **points)
label = "acc"
ganzoo.train("vanilla", "ring8", steps=2, out=f"{out}/acc", batch_size=8, accumulate=2, **points)
save_file({k: v.contiguous() for k, v in res.items()}, f"{out}/rank{rank}.safetensors")
dist.barrier()
dist.destroy_process_group()
sys.stdout.flush(); sys.stderr.flush()
import os; os._exit(0)  # past torch's gloo teardown at exit (docs/engine.md, DDP)
"""


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory):
    """One torchrun launch of DDP_SCRIPT: each rank's tensors, and the folder its runs wrote."""
    out = tmp_path_factory.mktemp("ddp")
    script = out / "ddp_options.py"
    script.write_text(DDP_SCRIPT)
    _torchrun(str(script), str(out))
    return load_file(out / "rank0.safetensors"), load_file(out / "rank1.safetensors"), out


def test_sync_batch_norm_layer_normalises_with_the_global_batch(ddp_results):
    for res in ddp_results[:2]:
        torch.testing.assert_close(res["layer.y"], res["layer.y_whole"], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(res["layer.x_grad"], res["layer.x_grad_whole"], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(res["layer.w_grad"], res["layer.w_grad_whole"], rtol=1e-4, atol=1e-4)
        for name in ("running_mean", "running_var"):
            torch.testing.assert_close(res[f"layer.{name}"], res[f"layer.{name}_whole"], rtol=1e-5, atol=1e-6)
            assert (res[f"layer.{name}_alone"] - res[f"layer.{name}_whole"]).abs().max() > 1e-3  # one rank's half


def test_sync_bn_ranks_agree_on_the_statistics_after_every_step(ddp_results):
    r0, r1, out = ddp_results
    assert bool(r0["sync.kinds"].any()) and not bool(r0["plain.kinds"].any())  # converted only when asked
    stats = [k[len("sync.") :] for k in r0 if k.startswith("sync.") and k.endswith(("running_mean", "running_var"))]
    assert len(stats) >= 4  # G's and D's batch norms
    for key in stats:
        torch.testing.assert_close(r0[f"sync.{key}"], r1[f"sync.{key}"], rtol=1e-5, atol=1e-6)
    # plain DDP: each rank's statistics are its own batch's until the end of the run aligns them
    assert any((r0[f"plain.{k}"] - r1[f"plain.{k}"]).abs().max() > 1e-4 for k in stats)
    engine = json.loads((out / "sync" / "config.json").read_text())["engine"]
    assert engine["sync_bn"] is True
    # the run folder loads as plain batch norm: the same keys as a run without --sync-bn
    assert _weights(out / "sync").keys() == _weights(out / "plain").keys()
    loaded = ganzoo.load(str(out / "sync"))
    kinds = {type(m) for m in loaded.nets["D"].modules()}
    assert nn.BatchNorm2d in kinds and not kinds & set(syncbn.SYNCED)
    torch.testing.assert_close(loaded.nets["D"].state_dict()["main.3.running_mean"], r0["sync.D.main.3.running_mean"])


def test_accumulation_under_ddp_equals_the_larger_batch(ddp_results):
    r0, r1, _ = ddp_results
    keys = [k[len("big.") :] for k in r0 if k.startswith("big.") and k != "big.kinds"]
    assert len(keys) == 8
    for key in keys:
        torch.testing.assert_close(r0[f"acc.{key}"], r0[f"big.{key}"], rtol=1e-5, atol=1e-6)
        assert torch.equal(r0[f"acc.{key}"], r1[f"acc.{key}"])  # gradients averaged over the ranks


def test_sharded_rows_and_samples_come_back_in_order(ddp_results):
    r0, r1, _ = ddp_results
    assert r0["share.rows"].tolist() == [3] and r1["share.rows"].tolist() == [4]
    assert torch.equal(r0["share.full"], torch.arange(7.0).reshape(7, 1) * 2)
    torch.manual_seed(5)  # the script's weights
    expected = ganzoo.create("dcgan", **TINY_DCGAN).sample(10, seed=3, batch_size=3)
    for res in (r0, r1):
        torch.testing.assert_close(res["share.samples"], expected)


def test_rank_0_alone_runs_an_action_and_its_failure_stops_every_rank(ddp_results, monkeypatch):
    r0, r1, _ = ddp_results
    assert (int(r0["main.error"]), int(r1["main.error"])) == (0, 1)
    assert (int(r0["main.result"]), int(r1["main.result"])) == (7, -1)
    for name, value in {"RANK": "1", "WORLD_SIZE": "2", "MASTER_PORT": "29500", "TORCHELASTIC_RUN_ID": "x"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GANZOO_CACHE_KEEP", "1")
    env = sharding.single_process_env()  # what the bench's training child gets: it trains alone
    assert not {"RANK", "WORLD_SIZE", "MASTER_PORT", "TORCHELASTIC_RUN_ID"} & set(env)
    assert env["GANZOO_CACHE_KEEP"] == "1" and env["PATH"] == os.environ["PATH"]


@pytest.mark.filterwarnings("ignore:FID from 100 samples")  # a small count keeps the test fast
def test_ganzoo_eval_under_torchrun_equals_one_process(tmp_path):
    torch.manual_seed(0)
    ganzoo.create("dcgan", **TINY_DCGAN).save_pretrained(tmp_path / "model")
    args = ["--data", "mnist-5k", "--metrics", "mnist_digits", "-n", "100", "--num-reference", "300", "--no-cache"]
    one = evaluate(str(tmp_path / "model"), "mnist-5k", ["mnist_digits"], num_samples=100, num_reference=300,
                          cache=False)  # fmt: skip
    proc = _torchrun("-m", "ganzoo", "eval", str(tmp_path / "model"), *args, "--json", str(tmp_path / "two.json"))
    assert proc.stdout.count("mnist_digits.mnist_fd") == 1  # rank 0 alone prints
    two = json.loads((tmp_path / "two.json").read_text())
    values = one["metrics"]["mnist_digits"]["values"]
    assert values["mnist_fd"] > 0
    for key, value in two["metrics"]["mnist_digits"]["values"].items():
        assert value == pytest.approx(values[key], rel=1e-6, abs=1e-9), key
