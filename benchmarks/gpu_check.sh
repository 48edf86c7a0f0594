#!/usr/bin/env bash
# One prepared GPU check (about 6 minutes on one H100-class GPU): the CUDA tests, then the
# throughput benchmark for DCGAN-64 at batch 256 in fp32, bf16, bf16+channels_last and
# bf16+channels_last+compile, and WGAN-GP / CycleGAN at bf16. Results land in $OUT (or ./gpu-check).
# Record the figures in docs/benchmarks.md beside the GPU's name printed first.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-check}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))" | tee -a "$out/gpu.txt"

# GPU tests: every test marked cuda (tests/test_cuda.py), with a time limit
GANZOO_TEST_CUDA=1 timeout 150 python -m pytest -q tests/test_cuda.py 2>&1 | tee "$out/tests.txt"

# target: bf16-cl-compile >= 3x the plain fp32 loop's images/s for DCGAN-64 at batch 256
timeout 240 python benchmarks/throughput.py --device cuda --variants dcgan --image-size 64 --channels 3 \
  --batch-size 256 --modes fp32 bf16 bf16-cl bf16-cl-compile --rounds 5 --chunk 20 --warmup 10 \
  --json "$out/throughput-dcgan64.json" 2>&1 | tee "$out/throughput-dcgan64.txt"
timeout 120 python benchmarks/throughput.py --device cuda --variants wgan-gp cyclegan --image-size 64 --channels 3 \
  --batch-size 64 --modes fp32 bf16-cl --rounds 3 --chunk 10 --warmup 5 \
  --json "$out/throughput-others.json" 2>&1 | tee "$out/throughput-others.txt"
# DDP through torchrun with NCCL (one rank per GPU; NCCL refuses two ranks on one device): the
# run must finish, write its folder and exit 0 on every rank
timeout 120 torchrun --standalone --nproc_per_node "$(nvidia-smi -L | wc -l)" -m ganzoo train dcgan --data mnist-5k \
  --image-size 32 --channels 1 --steps 60 --batch-size 256 --device cuda --sample-every 0 --progress off \
  --out "$out/ddp-run" > "$out/ddp.txt" 2>&1 && echo "torchrun DDP: exit 0" | tee -a "$out/ddp.txt" \
  || echo "torchrun DDP: FAILED (see ddp.txt)" | tee -a "$out/ddp.txt"
python - "$out" <<'PY'
import json, sys
r = {x["mode"]: x for x in json.load(open(f"{sys.argv[1]}/throughput-dcgan64.json"))["results"]}
base = r["fp32"]["plain_images_per_s"]
for mode, x in r.items():
    print(f"{mode:16s} engine {x['engine_images_per_s']:9.1f} img/s  plain {x['plain_images_per_s']:9.1f}  "
          f"ratio {x['ratio_median']:.3f}  x{x['engine_images_per_s'] / base:.2f} vs plain fp32  MFU {x.get('mfu_vs_bf16_peak')}")
PY
