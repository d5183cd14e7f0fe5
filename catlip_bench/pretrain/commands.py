"""CLI sub-commands for this area: `catlip-bench pretrain` and `catlip-bench bench pretrain`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from catlip_bench.errors import CatlipBenchError
from catlip_bench.pretrain.config import load_recipe, recipe_path


class _IntermixedParser(argparse.ArgumentParser):
    """Lets options sit between positionals: `pretrain CONFIG --resume optim.steps=10`."""

    _inner = False

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        if self._inner:
            return super().parse_known_args(args, namespace)
        self._inner = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inner = False


def default_out_dir(recipe: Path) -> Path:
    """Where a registered backbone expects this recipe's checkpoint, else outputs/pretrain/<recipe name>."""
    from catlip_bench.plugins import registries

    for spec in registries().backbones:
        if spec.recipe is not None and spec.weights is not None and spec.recipe.resolve() == recipe.resolve():
            return spec.weights.parent
    return Path("outputs") / "pretrain" / recipe.stem


def _pretrain(args: argparse.Namespace) -> int:
    from catlip_bench.plugins import registries

    path = recipe_path(args.config)
    config = load_recipe(path, args.overrides)
    out = Path(args.out) if args.out else default_out_dir(path)
    if args.resume and not (out / "checkpoint.pt").is_file():
        raise CatlipBenchError(f"nothing to resume: {out / 'checkpoint.pt'} not found; drop --resume to start")
    checkpoint = registries().trainers.get(config.get("trainer", "catlip")).train(config, out, args.resume)
    if os.environ.get("RANK", "0") == "0":
        print(f"wrote {checkpoint}", file=sys.stderr)
    return 0


def _bench_pretrain(args: argparse.Namespace) -> int:
    from catlip_bench.pretrain.speed import bench_command

    return bench_command(args)


def bench_commands(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The `bench` group's sub-command action, created once and shared by every area that adds a benchmark."""
    if "bench" not in sub.choices:
        bench = sub.add_parser("bench", help="speed benchmarks, measured side by side")
        bench.set_defaults(bench_commands=bench.add_subparsers(dest="benchmark", required=True, metavar="BENCH"))
    return sub.choices["bench"].get_default("bench_commands")


def _bench_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipe", default=None,
                        help="take arch, image size and text tower from a CLIP recipe (e.g. clip_vit_tiny_demo)")
    parser.add_argument("--arch", default="vit_base_patch16_224", help="timm ViT (default: %(default)s)")
    parser.add_argument("--img-size", type=int, default=224, help="default: %(default)s")
    parser.add_argument("--batch", type=int, default=8, help="images per step (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per variant (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (default: %(default)s)")
    parser.add_argument("--vocab-size", type=int, default=24320,
                        help="CatLIP head size (default: CoreNet's DataComp vocabulary, %(default)s)")
    parser.add_argument("--text-model", default="ViT-B-16", help="open_clip config of the text tower")
    parser.add_argument("--context-length", type=int, default=None, help="text tokens (default: the config's)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto",
                        help="auto: bf16 autocast on cuda, fp32 on cpu")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="device peak for MFU (default: known bf16 peaks of H100/H200/A100/L4/...)")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add this area's sub-commands to the `catlip-bench` parser."""
    p = sub.add_parser("pretrain", help="pre-train a backbone from a recipe (CatLIP or CLIP; torchrun for DDP)")
    p.add_argument("config", help="recipe YAML, or its name in configs/pretrain/ (e.g. catlip_vit_tiny_demo)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="recipe overrides, e.g. optim.steps=100")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--out", default=None,
                   help="output folder (default: the registered backbone's checkpoint folder for this recipe, "
                        "else outputs/pretrain/<recipe>)")
    p.set_defaults(func=_pretrain)
    p.__class__ = _IntermixedParser

    p = bench_commands(sub).add_parser(
        "pretrain", help="time CatLIP vs CLIP vs bare timm training steps on the same tower and batch")
    _bench_arguments(p)
    p.set_defaults(func=_bench_pretrain)
