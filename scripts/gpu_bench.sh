#!/usr/bin/env bash
# One call on a GPU machine: CatLIP vs CLIP vs the bare timm step (the floor) on the paper's shapes:
# ViT-B/16 at 224 px, bf16 autocast, CatLIP head over 24,320 synsets, open_clip ViT-B-16 text tower (77 tokens).
# Prints each step's images/s and MFU (counted FLOPs / time / the GPU's dense bf16 peak) and the two ratios.
# Usage: bash scripts/gpu_bench.sh [extra `catlip-bench bench pretrain` options, e.g. --batch 128 --peak-tflops 989]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
cd "$ROOT"
"$PY" - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device visible: run this on a GPU machine"
print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, CUDA {torch.version.cuda}")
PY
exec "$PY" -m catlip_bench.cli bench pretrain \
  --arch vit_base_patch16_224 --img-size 224 --batch "${BATCH:-256}" --steps "${STEPS:-20}" --warmup "${WARMUP:-5}" \
  --vocab-size 24320 --text-model ViT-B-16 --device cuda --precision bf16 "$@"
