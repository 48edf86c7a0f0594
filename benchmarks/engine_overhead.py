"""Engine overhead: ganzoo's DCGAN training against a plain PyTorch loop of the same networks.

Both run in this one process, alternating in chunks, from the same initial weights, on the same
in-memory mnist-5k batches, so machine noise hits both alike. The plain loop is the classic DCGAN
loop (D on real, D on fake, D step; G step; a loss .item() each iteration). The engine runs with
logging on (metrics.jsonl every 50 steps, NaN checks) but no sample grids or checkpoints, which
the plain loop does not have. Prints the time-per-step ratio engine/plain (target <= 1.03 on CPU).

    python benchmarks/engine_overhead.py --rounds 8 --chunk 40
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F

import ganzoo
from ganzoo.data import load_dataset
from ganzoo.engine import Trainer, TrainOptions


def plain_loop(G, D, data: torch.Tensor, batch_size: int, lr: float, betas, device):
    """The classic DCGAN loop as a generator: each next() runs one iteration."""
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    nz = G.latent_shape[0]
    g = torch.Generator().manual_seed(1)
    while True:
        perm = torch.randperm(len(data), generator=g)
        for i in range(len(data) // batch_size):
            real = data[perm[i * batch_size:(i + 1) * batch_size]].to(device)
            b = real.shape[0]
            ones, zeros = torch.ones(b, device=device), torch.zeros(b, device=device)
            D.zero_grad()
            err_real = F.binary_cross_entropy_with_logits(D(real), ones)
            err_real.backward()
            fake = G(torch.randn(b, nz, 1, 1, device=device))
            err_fake = F.binary_cross_entropy_with_logits(D(fake.detach()), zeros)
            err_fake.backward()
            opt_d.step()
            G.zero_grad()
            err_g = F.binary_cross_entropy_with_logits(D(fake), ones)
            err_g.backward()
            opt_g.step()
            (err_real + err_fake).item(), err_g.item()
            yield


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=8, help="alternations of engine chunk + plain chunk")
    ap.add_argument("--chunk", type=int, default=40, help="iterations per chunk")
    ap.add_argument("--warmup", type=int, default=10, help="untimed iterations of each first")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", help="write the result here")
    args = ap.parse_args()

    torch.manual_seed(0)
    model = ganzoo.create("dcgan", image_size=args.image_size, channels=args.channels)
    G, D = copy.deepcopy(model.nets["G"]).to(args.device), copy.deepcopy(model.nets["D"]).to(args.device)
    dataset, _ = load_dataset("mnist-5k", image_size=args.image_size, channels=args.channels)
    total = args.warmup + args.rounds * args.chunk
    opts = TrainOptions(steps=total, batch_size=args.batch_size, device=args.device, log_every=50,
                        sample_every=0, checkpoint_every=0, progress="off")
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(model, dataset, {"spec": "mnist-5k", "kind": "image"}, out, opts)
        plain = plain_loop(G, D, dataset.tensor, args.batch_size, model.config.lr, model.config.betas, args.device)

        def run_plain(n: int) -> None:
            for _ in range(n):
                next(plain)

        trainer.run(args.warmup, finish=False)
        run_plain(args.warmup)
        engine_times, plain_times = [], []
        for r in range(args.rounds):
            for label, fn, times in (("engine", lambda: trainer.run(trainer.iteration + args.chunk, finish=False), engine_times),
                                     ("plain", lambda: run_plain(args.chunk), plain_times)):
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) / args.chunk)
        trainer.close()

    ratios = [e / p for e, p in zip(engine_times, plain_times)]
    result = {
        "device": args.device, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "batch_size": args.batch_size, "image_size": args.image_size, "channels": args.channels,
        "rounds": args.rounds, "chunk": args.chunk,
        "engine_ms_per_step": round(1000 * statistics.median(engine_times), 2),
        "plain_ms_per_step": round(1000 * statistics.median(plain_times), 2),
        "ratio_median": round(statistics.median(ratios), 4),
        "ratio_total": round(sum(engine_times) / sum(plain_times), 4),
        "ratios": [round(x, 4) for x in ratios],
    }
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
