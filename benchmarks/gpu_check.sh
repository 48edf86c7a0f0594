#!/usr/bin/env bash
# One prepared GPU check, about 8 minutes on one H100/H200-class GPU; run it with the device's
# `run` at a 590 s limit. In order:
#  1. StyleGAN2 on mnist-5k (the recipe proposed for a bundled stylegan2-mnist), seeds 0 and 1 side by
#     side for SG2_SECONDS of training each, every checkpoint scored by the digit judge
#     (benchmarks/score_checkpoints.py); the CUDA tests and a torchrun DDP run go beside it, since
#     neither is timed.
#  2. Alone on the GPU: the throughput benchmark, DCGAN-64 at batch 256 in fp32, bf16,
#     bf16+channels_last and +compile, then WGAN-GP / CycleGAN at bf16.
# Results land in $OUT (or ./gpu-check): gpu-check.tar.gz (logs and JSON) and stylegan2-mnist.tar
# (each seed's latest generator, published with save_pretrained), since the device returns at most
# 8 files. Record the figures in docs/benchmarks.md beside the GPU's name printed first.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-check}"
work="$out/check"
mkdir -p "$work"
export PYTHONUNBUFFERED=1
py="${PYTHON:-python3}"  # the device's python3 holds PyTorch; ganzoo goes in editable, from this tree, offline
$py -c "import ganzoo_stylegan2" 2>/dev/null || $py -m pip install -q --no-deps --no-build-isolation --no-index -e . \
  || { echo "could not install ganzoo here"; exit 1; }
sg2_seconds="${SG2_SECONDS:-200}"  # training seconds per seed
device="${DEVICE:-cuda}"  # DEVICE=cpu SG2_SECONDS=5 checks the script itself on a machine without a GPU
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$work/gpu.txt"
$py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))" | tee -a "$work/gpu.txt"

# 1. StyleGAN2, two seeds at once (small nets leave the GPU mostly idle; two processes fill it)
sg2=(--data mnist-5k --image-size 32 --channels 1 -c channel_base=4096 -c channel_max=128 -c z_dim=128 -c w_dim=128
     -c mapping_layers=2 --batch-size 64 --ema 0.999 --device $device --steps 1000000 --checkpoint-every 1000
     --keep-checkpoints 100 --log-every 100 --sample-every 0 --progress off)
for seed in 0 1; do
  OMP_NUM_THREADS=${SG2_THREADS:-4} timeout $((sg2_seconds + 90)) $py -m ganzoo train stylegan2 "${sg2[@]}" --budget "$sg2_seconds" \
    --seed "$seed" --out "$work/stylegan2-s$seed" > "$work/stylegan2-train-s$seed.txt" 2>&1 &
done
# beside it: every test marked cuda (tests/test_cuda.py), and DDP through torchrun with NCCL (one rank
# per GPU; NCCL refuses two ranks on one device): the run must finish and exit 0 on every rank
GANZOO_TEST_CUDA=1 timeout 150 $py -m pytest -q -p no:cacheprovider -n 0 tests/test_cuda.py > "$work/tests.txt" 2>&1
tail -3 "$work/tests.txt"
timeout 120 $py -m torch.distributed.run --standalone --nproc_per_node "$(nvidia-smi -L | wc -l)" -m ganzoo train dcgan --data mnist-5k \
  --image-size 32 --channels 1 --steps 60 --batch-size 256 --device cuda --sample-every 0 --progress off \
  --out "$work/ddp-run" > "$work/ddp.txt" 2>&1 && echo "torchrun DDP: exit 0" | tee -a "$work/ddp.txt" \
  || echo "torchrun DDP: FAILED (see ddp.txt)" | tee -a "$work/ddp.txt"
wait
for seed in 0 1; do tail -2 "$work/stylegan2-train-s$seed.txt"; tail -1 "$work/stylegan2-s$seed/metrics.jsonl"; done
timeout 150 $py benchmarks/score_checkpoints.py "$work"/stylegan2-s0 "$work"/stylegan2-s1 --device $device \
  --json "$work/stylegan2-curve.json" --export "$work/stylegan2-mnist" \
  --recipe "ganzoo train stylegan2 ${sg2[*]} --budget $sg2_seconds --out {run} (steps: the run's last)" \
  2>&1 | tee "$work/stylegan2-score.txt"

# 2. Throughput, alone. Target: bf16-cl-compile >= 3x the plain fp32 loop's images/s for DCGAN-64 at batch 256
timeout 200 $py benchmarks/throughput.py --device cuda --variants dcgan --image-size 64 --channels 3 \
  --batch-size 256 --modes fp32 bf16 bf16-cl bf16-cl-compile --rounds 3 --chunk 20 --warmup 10 \
  --json "$work/throughput-dcgan64.json" 2>&1 | tee "$work/throughput-dcgan64.txt"
timeout 90 $py benchmarks/throughput.py --device cuda --variants wgan-gp cyclegan --image-size 64 --channels 3 \
  --batch-size 64 --modes fp32 bf16-cl --rounds 3 --chunk 10 --warmup 5 \
  --json "$work/throughput-others.json" 2>&1 | tee "$work/throughput-others.txt"
$py - "$work" <<'PY'
import json, sys
try:
    r = {x["mode"]: x for x in json.load(open(f"{sys.argv[1]}/throughput-dcgan64.json"))["results"]}
except (OSError, ValueError, KeyError) as exc:
    sys.exit(f"no DCGAN-64 throughput figures: {exc}")
base = r["fp32"]["plain_images_per_s"]
for mode, x in r.items():
    print(f"{mode:16s} engine {x['engine_images_per_s']:9.1f} img/s  plain {x['plain_images_per_s']:9.1f}  "
          f"ratio {x['ratio_median']:.3f}  x{x['engine_images_per_s'] / base:.2f} vs plain fp32  MFU {x.get('mfu_vs_bf16_peak')}")
PY

# what comes back: logs and JSON in one archive, the exported generators in another (no checkpoints)
tar -czf "$out/gpu-check.tar.gz" -C "$work" --exclude='checkpoints' --exclude='stylegan2-mnist' --exclude='ddp-run' .
[ -d "$work/stylegan2-mnist" ] && tar -cf "$out/stylegan2-mnist.tar" -C "$work" stylegan2-mnist
rm -rf "$work"
ls -la "$out"
