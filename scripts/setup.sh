#!/usr/bin/env bash
# Make this machine ready for catlip-bench: venv, the mm stack (mmcv built once), the package, offline data.
# Idempotent: a second run on a ready machine only checks stamps and exits in seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CATLIP_BENCH_VENV:-$ROOT/.venv}"
CACHE="${CATLIP_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/catlip-bench}"
PY="${PYTHON:-python3.11}"
TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMCV_VERSION=2.1.0
export PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf '[setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

mkdir -p "$CACHE/wheels"
if [ ! -x "$VENV/bin/python" ]; then
  command -v "$PY" >/dev/null || PY=python3
  log "creating venv $VENV"
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install -q --no-warn-script-location)

# Everything the stack needs; the stamp holds a hash of this file and the project metadata.
stamp="$VENV/.catlip-bench-stack"
want="$(cat "$0" "$ROOT/pyproject.toml" $(ls "$ROOT"/plugins/*/pyproject.toml 2>/dev/null || true) | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing torch $TORCH_VERSION and the Python stack"
  "${PIP[@]}" "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
  # After torch (which pulls a newer setuptools): mmcv's setup.py imports pkg_resources, gone in setuptools 81.
  "${PIP[@]}" "setuptools<81" wheel ninja psutil

  # mmcv has no wheel on PyPI: build it once with CPU ops, cache the wheel keyed by torch + python.
  pytag="$("$VENV/bin/python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
  wheel_dir="$CACHE/wheels/mmcv-$MMCV_VERSION-torch$TORCH_VERSION-$pytag-$(uname -m)"
  if ! ls "$wheel_dir"/mmcv-*.whl >/dev/null 2>&1; then
    log "building mmcv $MMCV_VERSION with CPU ops (about 8 minutes on 2 cores, once)"
    src="$(mktemp -d)"
    "$VENV/bin/python" -m pip download -q --no-deps --no-binary :all: --no-build-isolation "mmcv==$MMCV_VERSION" -d "$src"
    tar --no-same-owner -xzf "$src"/mmcv-*.tar.gz -C "$src"
    # torch >= 2.10 headers need C++20; mmcv 2.1.0 hard-codes C++17.
    sed -i 's/-std=c++17/-std=c++20/g' "$src/mmcv-$MMCV_VERSION/setup.py"
    mkdir -p "$wheel_dir.tmp"
    MMCV_WITH_OPS=1 MAX_JOBS="$(nproc)" CFLAGS=-g0 \
      "$VENV/bin/python" -m pip wheel -q --no-build-isolation --no-deps "$src/mmcv-$MMCV_VERSION" -w "$wheel_dir.tmp"
    rm -rf "$wheel_dir" && mv "$wheel_dir.tmp" "$wheel_dir" && rm -rf "$src"
  fi
  "${PIP[@]}" "$wheel_dir"/mmcv-*.whl "mmdet==3.3.0" "mmsegmentation==1.2.2" ftfy

  "${PIP[@]}" -e "$ROOT[dev]"
  for plugin in "$ROOT"/plugins/*/; do
    [ -f "$plugin/pyproject.toml" ] && "${PIP[@]}" --no-build-isolation -e "$plugin"
  done
  echo "$want" > "$stamp"
else
  log "Python stack up to date ($VENV)"
fi

# Offline data (WordNet, tagger, demo images, probe and dense sets): built once into the cache.
"$VENV/bin/catlip-bench" data prepare all
log "ready: source $VENV/bin/activate"
