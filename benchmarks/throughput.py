"""Throughput: ganzoo's engine against a plain PyTorch loop of the same networks, per variant.

For each variant both loops run in this one process, alternating in chunks, from the same
initial weights, on the same in-memory batches, so machine noise hits both alike. The plain loops
are the classic hand-written ones (DCGAN's: D on real, D on fake, D step, G step, a loss .item()
per iteration, default Adam, D's weight gradients computed during G's step, as pytorch/examples
does; WGAN-GP's with n_critic critic steps and the penalty; CycleGAN's with both
generators then both discriminators). The engine runs with logging on (metrics.jsonl, NaN
checks), no sample grids or checkpoints. For DCGAN and vanilla a third loop is timed too: the same
iteration tuned by hand (fused Adam, D frozen during G's step, no .item()), so that the ratio
against it (ratio_vs_tuned) says what the engine costs beyond what a careful hand-written loop does.
Reported: time per iteration, the ratio engine/plain
(targets on CPU at fp32: DCGAN <= 0.90, vanilla, WGAN-GP and CycleGAN <= 1.00), images/s,
sampling images/s, and on CUDA the model FLOPs utilisation against the GPU's dense bf16 peak,
for fp32, bf16, bf16+channels_last and bf16+channels_last+compile.

    python benchmarks/throughput.py --variants dcgan --rounds 8 --chunk 40          # CPU, the overhead ratio
    OMP_NUM_THREADS=1 python benchmarks/throughput.py --clock cpu ...               # the same on a busy machine
    python benchmarks/throughput.py --device cuda --image-size 64 --channels 3 --batch-size 256 \\
        --modes fp32 bf16 bf16-cl bf16-cl-compile --json throughput.json               # GPU
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F
from ganzoo_cyclegan.step import ImagePool

import ganzoo
from ganzoo.data import load_dataset
from ganzoo.engine import Trainer, TrainOptions
from ganzoo.losses import gradient_penalty

MODES = {  # name -> (precision, channels_last, compile)
    "fp32": ("fp32", False, False),
    "fp32-cl": ("fp32", True, False),
    "fp32-compile": ("fp32", False, True),
    "bf16": ("bf16", False, False),
    "bf16-cl": ("bf16", True, False),
    "bf16-cl-compile": ("bf16", True, True),
}
DATA = {"image": "mnist-5k", "points": "ring8", "unpaired": "mnist-5k-inverted"}
PEAK_BF16_TFLOPS = {"H100": 989.4, "H200": 989.4, "A100": 312.0, "L4": 121.0, "L40S": 362.0}  # dense, per vendor sheets


# ---- plain loops: each next() runs one iteration -----------------------------------------------


def batches(data, batch_size: int, device, channels_last: bool):
    g = torch.Generator().manual_seed(1)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    whole = getattr(data, "batch", None) or data.tensor.__getitem__
    while True:
        perm = torch.randperm(len(data), generator=g)
        for i in range(len(data) // batch_size):
            b = whole(perm[i * batch_size : (i + 1) * batch_size])
            yield tuple(
                x.to(device).contiguous(memory_format=fmt) if x.dim() == 4 else x.to(device)
                for x in (b if isinstance(b, tuple) else (b,))
            )


def plain_bce(nets, cfg, data, bs, device, autocast, channels_last):
    G, D = nets["G"], nets["D"]
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
    for (real,) in batches(data, bs, device, channels_last):
        ones, zeros = torch.ones(bs, device=device), torch.zeros(bs, device=device)
        D.zero_grad()
        with autocast():
            err_real = F.binary_cross_entropy_with_logits(D(real), ones)
        err_real.backward()
        with autocast():
            fake = G(torch.randn(bs, *G.latent_shape, device=device))
            err_fake = F.binary_cross_entropy_with_logits(D(fake.detach()), zeros)
        err_fake.backward()
        opt_d.step()
        G.zero_grad()
        with autocast():
            err_g = F.binary_cross_entropy_with_logits(D(fake), ones)
        err_g.backward()
        opt_g.step()
        (err_real + err_fake).item(), err_g.item()
        yield


def plain_bce_tuned(nets, cfg, data, bs, device, autocast, channels_last):
    """The same DCGAN/vanilla iteration written as a careful hand would: fused (or multi-tensor) Adam, D frozen
    while G's loss goes back through it, and no .item() per iteration (the engine's three savings)."""
    G, D = nets["G"], nets["D"]
    fused = {"fused": True} if device.type in ("cpu", "cuda") else {"foreach": True}
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), **fused)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), **fused)
    d_params = [p for p in D.parameters() if p.requires_grad]
    for (real,) in batches(data, bs, device, channels_last):
        ones, zeros = torch.ones(bs, device=device), torch.zeros(bs, device=device)
        opt_d.zero_grad(set_to_none=True)
        with autocast():
            err_real = F.binary_cross_entropy_with_logits(D(real), ones)
        err_real.backward()
        with autocast():
            fake = G(torch.randn(bs, *G.latent_shape, device=device))
            err_fake = F.binary_cross_entropy_with_logits(D(fake.detach()), zeros)
        err_fake.backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        for q in d_params:  # D gives input gradients only
            q.requires_grad_(False)
        with autocast():
            err_g = F.binary_cross_entropy_with_logits(D(fake), ones)
        err_g.backward()
        for q in d_params:
            q.requires_grad_(True)
        opt_g.step()
        yield


def plain_wgan_gp(nets, cfg, data, bs, device, autocast, channels_last):
    G, D = nets["G"], nets["D"]
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
    stream = batches(data, bs, device, channels_last)
    while True:
        for _ in range(cfg.n_critic):
            (real,) = next(stream)
            D.zero_grad()
            with autocast():
                with torch.no_grad():
                    fake = G(torch.randn(bs, *G.latent_shape, device=device))
                eager_d = getattr(D, "_orig_mod", D)  # the penalty's double backward runs uncompiled, as in the engine
                loss_d = D(fake).mean() - D(real).mean() + cfg.gp_lambda * gradient_penalty(eager_d, real, fake)
            loss_d.backward()
            opt_d.step()
        G.zero_grad()
        with autocast():
            loss_g = -D(G(torch.randn(bs, *G.latent_shape, device=device))).mean()
        loss_g.backward()
        opt_g.step()
        loss_d.item(), loss_g.item()
        yield


def plain_cyclegan(nets, cfg, data, bs, device, autocast, channels_last):
    gab, gba, da, db = nets["G_AB"], nets["G_BA"], nets["D_A"], nets["D_B"]
    opt_g = torch.optim.Adam(itertools.chain(gab.parameters(), gba.parameters()), lr=cfg.lr, betas=tuple(cfg.betas))
    opt_d = torch.optim.Adam(itertools.chain(da.parameters(), db.parameters()), lr=cfg.lr, betas=tuple(cfg.betas))
    lam, lam_idt = cfg.lambda_cycle, cfg.lambda_cycle * cfg.lambda_identity
    pool_a, pool_b = ImagePool(cfg.pool_size), ImagePool(cfg.pool_size)  # part of the algorithm, as in the paper

    def mse(pred, target):
        return F.mse_loss(pred, torch.full_like(pred, target))

    for a, b in batches(data, bs, device, channels_last):
        opt_g.zero_grad()
        with autocast():
            fake_b, fake_a = gab(a), gba(b)
            loss_g = (
                mse(db(fake_b), 1)
                + mse(da(fake_a), 1)
                + lam * (F.l1_loss(gba(fake_b), a) + F.l1_loss(gab(fake_a), b))
                + lam_idt * (F.l1_loss(gab(b), b) + F.l1_loss(gba(a), a))
            )
        loss_g.backward()
        opt_g.step()
        opt_d.zero_grad()
        with autocast():
            loss_d = 0.5 * (
                mse(da(a), 1) + mse(da(pool_a.query(fake_a)), 0) + mse(db(b), 1) + mse(db(pool_b.query(fake_b)), 0)
            )
        loss_d.backward()
        opt_d.step()
        loss_g.item(), loss_d.item()
        yield


PLAIN = {"vanilla": plain_bce, "dcgan": plain_bce, "wgan-gp": plain_wgan_gp, "cyclegan": plain_cyclegan}
TUNED = {"vanilla": plain_bce_tuned, "dcgan": plain_bce_tuned}  # the same loops with the engine's savings by hand


# ---- measurement ----------------------------------------------------------------------------------


def measure(variant: str, mode: str, args) -> dict:
    precision, channels_last, compile_ = MODES[mode]
    device = torch.device(args.device)
    # "cpu": this thread's CPU time, immune to other processes on a shared machine (needs one torch thread)
    clock = time.thread_time if args.clock == "cpu" else time.perf_counter
    torch.manual_seed(0)
    model = ganzoo.create(variant, image_size=args.image_size, channels=args.channels, **dict(args.config))
    kind = model.variant.data_kind.split(",")[0]
    dataset, _ = load_dataset(DATA[kind], image_size=args.image_size, channels=args.channels)
    if dataset.__class__.__name__ == "UnpairedTensorDataset":
        dataset.a, dataset.b = dataset.a.to(device), dataset.b.to(device)
    plain_nets = {k: copy.deepcopy(v).to(device) for k, v in model.nets.items()}
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    for net in plain_nets.values():
        net.to(memory_format=fmt)
    run_nets = {k: torch.compile(v) if compile_ else v for k, v in plain_nets.items()}
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16

    def autocast():
        return torch.autocast(device.type, dtype=dtype, enabled=precision != "fp32")

    total = args.warmup + args.rounds * args.chunk
    opts = TrainOptions(
        steps=total,
        batch_size=args.batch_size,
        device=args.device,
        precision=precision,
        channels_last=channels_last,
        compile=compile_,
        log_every=50,
        sample_every=0,
        checkpoint_every=0,
        progress="off",
    )
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(model, dataset, {"spec": DATA[kind], "kind": kind}, out, opts)
        flops = None
        if device.type == "cuda":  # counted on an uncompiled fp32 copy: FLOPs do not depend on precision
            counted = PLAIN[variant](
                {k: copy.deepcopy(v) for k, v in plain_nets.items()},
                model.config,
                dataset,
                args.batch_size,
                device,
                lambda: torch.autocast(device.type, enabled=False),
                channels_last,
            )
            flops = count_flops(lambda: next(counted))
        plain = PLAIN[variant](run_nets, model.config, dataset, args.batch_size, device, autocast, channels_last)
        tuned = None
        if variant in TUNED:  # from the same initial weights, on its own copy
            tuned_nets = {k: copy.deepcopy(v) for k, v in run_nets.items()}
            tuned = TUNED[variant](tuned_nets, model.config, dataset, args.batch_size, device, autocast, channels_last)

        def sync():
            if device.type == "cuda":
                torch.cuda.synchronize()

        def run_plain(n: int) -> None:
            for _ in range(n):
                next(plain)

        def run_tuned(n: int) -> None:
            for _ in range(n):
                next(tuned)

        trainer.run(args.warmup, finish=False)
        run_plain(args.warmup)
        engine_t, plain_t, tuned_t = [], [], []
        loops = [
            (lambda: trainer.run(trainer.iteration + args.chunk, finish=False), engine_t),
            (lambda: run_plain(args.chunk), plain_t),
        ]
        if tuned is not None:
            run_tuned(args.warmup)
            loops.append((lambda: run_tuned(args.chunk), tuned_t))
        for _ in range(args.rounds):
            for fn, times in loops:
                sync()
                t0 = clock()
                fn()
                sync()
                times.append((clock() - t0) / args.chunk)
        trainer.close()
    batches_per_iteration = getattr(model.config, "n_critic", 1)
    images = args.batch_size * batches_per_iteration
    ratios = [e / p for e, p in zip(engine_t, plain_t)]
    result = {
        "variant": variant,
        "mode": mode,
        "engine_ms": round(1e3 * statistics.median(engine_t), 3),
        "plain_ms": round(1e3 * statistics.median(plain_t), 3),
        "ratio_median": round(statistics.median(ratios), 4),
        "ratio_total": round(sum(engine_t) / sum(plain_t), 4),
        "ratios": [round(r, 4) for r in ratios],
        "engine_images_per_s": round(images / statistics.median(engine_t), 1),
        "plain_images_per_s": round(images / statistics.median(plain_t), 1),
        "sampling_images_per_s": sampling_rate(model, args, device),
    }
    if tuned_t:  # against the tuned hand-written loop: what is left of the engine's overhead
        vs_tuned = [e / t for e, t in zip(engine_t, tuned_t)]
        result.update(tuned_ms=round(1e3 * statistics.median(tuned_t), 3),
                      ratio_vs_tuned_median=round(statistics.median(vs_tuned), 4),
                      ratio_vs_tuned_total=round(sum(engine_t) / sum(tuned_t), 4))  # fmt: skip
    if flops:
        peak = peak_tflops(device)
        result["train_gflops_per_iteration"] = round(flops / 1e9, 2)
        result["engine_tflops_per_s"] = round(flops / statistics.median(engine_t) / 1e12, 2)
        if peak:
            result["mfu_vs_bf16_peak"] = round(result["engine_tflops_per_s"] / peak, 4)
    return result


def count_flops(one_iteration) -> int:
    """FLOPs of one training iteration (forward + backward of every network), counted by torch."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        one_iteration()
    return counter.get_total_flops()


@torch.no_grad()
def sampling_rate(model, args, device) -> float | None:
    if model.variant.task != "sample":
        return None
    model = copy.deepcopy(model).to(device)
    model.sample(args.batch_size, seed=0)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    model.sample(args.batch_size * 8, seed=1, batch_size=args.batch_size)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return round(args.batch_size * 8 / (time.perf_counter() - t0), 1)


def peak_tflops(device) -> float | None:
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)


def _key_value(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="+", default=["dcgan"], choices=sorted(PLAIN))
    ap.add_argument("--modes", nargs="+", default=["fp32"], choices=list(MODES))
    ap.add_argument("--rounds", type=int, default=8, help="alternations of an engine chunk and a plain chunk")
    ap.add_argument("--chunk", type=int, default=40, help="iterations per chunk")
    ap.add_argument(
        "--warmup", type=int, default=10, help="untimed iterations of each first (compilation happens here)"
    )
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall: elapsed time; cpu: this thread's CPU time (with OMP_NUM_THREADS=1, for a busy machine)",
    )
    ap.add_argument("--json", help="write the results here")
    ap.add_argument(
        "-c",
        "--config",
        action="append",
        default=[],
        type=_key_value,
        metavar="KEY=VALUE",
        help="variant config values for every variant measured, e.g. -c ngf=16 -c ndf=16 (JSON values)",
    )
    args = ap.parse_args()
    if args.clock == "cpu" and (args.device != "cpu" or torch.get_num_threads() != 1):
        ap.error("--clock cpu measures one thread: run on --device cpu with OMP_NUM_THREADS=1")
    header = {
        "device": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu",
        "clock": args.clock,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "image_size": args.image_size,
        "channels": args.channels,
        "rounds": args.rounds,
        "chunk": args.chunk,
    }
    results = []
    for variant in args.variants:
        for mode in args.modes:
            results.append(measure(variant, mode, args))
            print(json.dumps(results[-1]), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({**header, "results": results}, f, indent=2)
    print(json.dumps(header))


if __name__ == "__main__":
    main()
