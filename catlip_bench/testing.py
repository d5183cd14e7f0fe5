"""Conformance kit for backbone plugins: `check_backbone` puts one backbone through the whole contract.

A pytest plugin too (entry point `pytest11`): it adds the `--catlip-device` option and the
`backbone_conformance` fixture, and `conformance_test(*names)` makes a plugin's whole test one line.
Pytest loads this module in every run, so it imports torch and the plugin registries only when a
check runs. It needs pytest (catlip-bench's `dev` extra).
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import torch

    from catlip_bench.backbone import Backbone
    from catlip_bench.specs import BackboneSpec

    Views = tuple[torch.Tensor, torch.Tensor]  # (pooled, spatial)

BATCH = 2
SAME = 1e-5  # determinism and the checkpoint round trip: relative to the largest feature magnitude
BATCH_TOLERANCE = 1e-4  # a sample alone vs in a batch: kernels may block the sums differently
AUTOCAST_COSINE = 0.95  # bfloat16 autocast vs float32: per-sample cosine similarity of the pooled vectors
SMALL_INPUT = 32  # at least this high, twice as wide: the coarsest pyramid level is 1x2
PYRAMID_CHANNELS = 32


def check_backbone(
    backbone_or_name: Backbone | BackboneSpec | str, *, image_size: int | None = None, device: str = "cpu"
) -> None:
    """Check a backbone (registered name, BackboneSpec or built module) against the Backbone contract.

    Raises AssertionError naming the backbone, the check and the first violation. Checks: attributes,
    card, pooled [B, C] and spatial [B, C, H/p, W/p] views at two input sizes, float32 outputs,
    determinism and batch-size invariance in eval mode, bfloat16 autocast, the detection/segmentation
    feature pyramid (with gradients reaching the backbone) and a weights-only checkpoint round trip into
    a fresh build. `image_size` (a multiple of `patch_size`) defaults to `input_size`; autocast and the
    pyramid run on small images (at least 32 px high). The module is put in eval mode on `device`.
    """
    import torch

    from catlip_bench.errors import CatlipBenchError

    spec, backbone = _resolve(backbone_or_name)
    label = f"backbone {spec.name!r}" if spec else f"backbone {type(backbone).__name__}"
    _check_attributes(backbone, label)
    _check_card(backbone, spec, label)
    size = image_size or backbone.input_size
    stride = backbone.patch_size
    if size % stride:
        raise CatlipBenchError(f"image_size {size} is not a multiple of {label}'s patch_size {stride}")
    sizes = ((size, size), (size, size + 2 * stride))
    small = stride * -(-SMALL_INPUT // stride)
    small_images = _images(2, small, 2 * small, device)  # autocast and the pyramid: dtypes and shapes
    backbone.to(device).eval()
    with torch.no_grad():
        for height, width in sizes:
            _check_views(backbone, _images(BATCH, height, width, device), f"{label} [views at {height}x{width}]")
        images = _images(BATCH, *sizes[1], device)
        reference = _check_determinism(backbone, images, f"{label} [eval-mode determinism]")
        _check_batch_invariance(backbone, images, reference, f"{label} [batch-size invariance]")
        _check_autocast(backbone, small_images, f"{label} [bfloat16 autocast]")
    _check_pyramid(backbone, small_images, f"{label} [feature pyramid]")
    _check_round_trip(backbone, spec, images, reference, f"{label} [checkpoint round trip]")


def _resolve(item: Backbone | BackboneSpec | str) -> tuple[BackboneSpec | None, Backbone]:
    from catlip_bench.plugins import registries
    from catlip_bench.specs import BackboneSpec

    spec = registries().backbones.get(item) if isinstance(item, str) else item
    if isinstance(spec, BackboneSpec):
        return spec, spec.build()
    return None, item


def _require(ok: bool, where: str, message: str) -> None:
    if not ok:
        raise AssertionError(f"{where}: {message}")


def _images(batch: int, height: int, width: int, device: str, seed: int = 0) -> torch.Tensor:
    """Normalised-image-like inputs: standard normal, fixed seed."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, height, width, generator=generator).to(device)


def _require_close(actual: torch.Tensor, expected: torch.Tensor, tolerance: float, where: str, what: str) -> None:
    difference = (actual.float() - expected.float()).abs().max().item()
    allowed = tolerance * max(1.0, expected.float().abs().max().item())
    _require(difference <= allowed, where, f"{what} differ by {difference:.3g} (allowed {allowed:.3g})")


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_attributes(backbone: Any, label: str) -> None:
    from catlip_bench.backbone import Backbone, SynsetHead

    where = f"{label} [attributes]"
    _require(isinstance(backbone, Backbone), where, f"{type(backbone).__name__} is not a catlip_bench.backbone.Backbone")
    for view in ("forward_pooled", "forward_spatial"):
        _require(getattr(type(backbone), view) is not getattr(Backbone, view), where, f"{view} is not implemented")
    for name in ("embed_dim", "patch_size", "input_size"):
        value = getattr(backbone, name, None)
        _require(_positive_int(value), where, f"{name} must be a positive int, got {value!r}")
    _require(
        backbone.input_size % backbone.patch_size == 0, where,
        f"input_size {backbone.input_size} is not a multiple of patch_size {backbone.patch_size}",
    )
    for name, low in (("mean", 0.0), ("std", 1e-6)):
        value = getattr(backbone, name, None)
        _require(
            isinstance(value, Sequence) and len(value) == 3 and all(isinstance(v, float | int) for v in value),
            where, f"{name} must be three numbers (R, G, B), got {value!r}",
        )
        _require(
            all(low <= v <= 1 for v in value), where,
            f"{name} {tuple(value)} is not for pixels scaled to [0, 1] (0-255 values?)",
        )
    head = backbone.synset_head
    if head is not None:
        _require(isinstance(head, SynsetHead), where, f"synset_head must be a SynsetHead, got {type(head).__name__}")
        rows = len(head.keys)
        _require(
            tuple(head.weight.shape) == (rows, backbone.embed_dim) and tuple(head.bias.shape) == (rows,)
            and len(head.names) == rows, where,
            f"synset_head has {rows} keys, {len(head.names)} names, weight {tuple(head.weight.shape)}, "
            f"bias {tuple(head.bias.shape)}; expected weight ({rows}, {backbone.embed_dim}) and bias ({rows},)",
        )


def _check_card(backbone: Backbone, spec: BackboneSpec | None, label: str) -> None:
    from catlip_bench.backbone import BackboneCard, LoadReport, count_parameters, file_sha256

    where = f"{label} [card]"
    card = backbone.card
    _require(isinstance(card, BackboneCard), where, f"card must be a BackboneCard, got {type(card).__name__}")
    parameters = count_parameters(backbone)
    _require(
        card.parameters == parameters, where,
        f"card.parameters is {card.parameters} but the module has {parameters} (count_parameters(backbone))",
    )
    _require(isinstance(card.pretraining, str) and bool(card.pretraining), where, "card.pretraining is empty")
    weights = spec.weights if spec is not None and spec.weights is not None else card.weights
    if weights is None:
        return
    _require(
        card.weights is not None and Path(card.weights).resolve() == Path(weights).resolve(), where,
        f"the spec's weights are {weights} but card.weights is {card.weights!r}",
    )
    _require(Path(weights).is_file(), where, f"weights file {weights} does not exist")
    digest = file_sha256(Path(weights))
    _require(
        card.weights_sha256 == digest, where,
        f"card.weights_sha256 is {card.weights_sha256!r}, the file's sha256 is {digest}",
    )
    _require(
        isinstance(card.load_report, LoadReport), where,
        "card.load_report is not set: keep the LoadReport that load_weights returned",
    )


def _check_views(backbone: Backbone, images: torch.Tensor, where: str) -> None:
    import torch

    batch, _, height, width = images.shape
    channels, stride = backbone.embed_dim, backbone.patch_size
    pooled = backbone.forward_pooled(images)
    _require(isinstance(pooled, torch.Tensor), where, f"forward_pooled returned {type(pooled).__name__}, not a tensor")
    _require(
        tuple(pooled.shape) == (batch, channels), where,
        f"forward_pooled gave {tuple(pooled.shape)}, expected [B, embed_dim] = {(batch, channels)}",
    )
    spatial = backbone.forward_spatial(images)
    _require(isinstance(spatial, torch.Tensor), where, f"forward_spatial returned {type(spatial).__name__}, not a tensor")
    expected = (batch, channels, height // stride, width // stride)
    if tuple(spatial.shape) != expected:
        hint = ""
        if spatial.dim() == 4 and spatial.shape[1] == channels and spatial.shape[-1]:
            hint = f": the map has stride {width / spatial.shape[-1]:g} but patch_size says {stride}"
        _require(False, where, f"forward_spatial gave {tuple(spatial.shape)}, expected [B, C, H/p, W/p] = {expected}{hint}")
    for name, output in (("forward_pooled", pooled), ("forward_spatial", spatial)):
        _require(output.dtype == torch.float32, where, f"{name} gave {output.dtype} for float32 input, not float32")
        _require(bool(torch.isfinite(output).all()), where, f"{name} gave non-finite values")


def _views(backbone: Backbone, images: torch.Tensor) -> Views:
    return backbone.forward_pooled(images), backbone.forward_spatial(images)


def _check_determinism(backbone: Backbone, images: torch.Tensor, where: str) -> Views:
    """Two eval-mode calls under different seeds agree; returns the views as the later checks' reference."""
    import torch

    with torch.random.fork_rng(devices=[] if images.device.type == "cpu" else [images.device]):
        torch.manual_seed(1)
        first = _views(backbone, images)
        torch.manual_seed(2)
        second = _views(backbone, images)
    for name, a, b in zip(("forward_pooled", "forward_spatial"), first, second, strict=True):
        _require_close(b, a, SAME, where, f"two eval-mode calls of {name} on the same images (dropout left on?)")
    return first


def _check_batch_invariance(backbone: Backbone, images: torch.Tensor, batched: Views, where: str) -> None:
    for index in range(len(images)):
        alone = _views(backbone, images[index : index + 1])
        for name, together, single in zip(("forward_pooled", "forward_spatial"), batched, alone, strict=True):
            _require_close(
                single[0], together[index], BATCH_TOLERANCE, where,
                f"{name} of sample {index} alone and in a batch of {len(images)} (batch statistics in eval mode?)",
            )


def _check_autocast(backbone: Backbone, images: torch.Tensor, where: str) -> None:
    import torch

    reference = backbone.forward_pooled(images)
    with torch.autocast(images.device.type, dtype=torch.bfloat16):
        pooled, spatial = _views(backbone, images)
    for name, output, shape in (
        ("forward_pooled", pooled, reference.shape),
        ("forward_spatial", spatial, (len(images), backbone.embed_dim, *(s // backbone.patch_size for s in images.shape[2:]))),
    ):
        _require(tuple(output.shape) == tuple(shape), where, f"{name} gave {tuple(output.shape)}, expected {tuple(shape)}")
        _require(bool(torch.isfinite(output.float()).all()), where, f"{name} gave non-finite values")
    cosine = torch.nn.functional.cosine_similarity(pooled.float(), reference, dim=1).min().item()
    _require(
        cosine >= AUTOCAST_COSINE, where,
        f"forward_pooled under autocast has cosine similarity {cosine:.3f} to float32 (need {AUTOCAST_COSINE})",
    )


def _check_pyramid(backbone: Backbone, images: torch.Tensor, where: str) -> None:
    import torch

    from catlip_bench.dense import PYRAMID_STRIDES, SimpleFeaturePyramid
    from catlip_bench.errors import CatlipBenchError

    try:
        pyramid = SimpleFeaturePyramid(backbone, PYRAMID_CHANNELS).to(images.device).eval()
    except CatlipBenchError as error:
        raise AssertionError(f"{where}: {error}") from None
    levels = pyramid(images)
    batch, _, height, width = images.shape
    expected = [(batch, pyramid.out_channels, height // s, width // s) for s in PYRAMID_STRIDES]
    _require(
        [tuple(level.shape) for level in levels] == expected, where,
        f"levels at strides {PYRAMID_STRIDES} are {[tuple(level.shape) for level in levels]}, expected {expected}",
    )
    trainable = [p for p in backbone.parameters() if p.requires_grad]
    if trainable:
        generator = torch.Generator().manual_seed(4)  # random weights: a level's plain mean is 0 after GroupNorm
        sum((level * torch.randn(level.shape, generator=generator).to(level)).sum() for level in levels).backward()
        reached = any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in trainable)
        backbone.zero_grad(set_to_none=True)
        _require(
            reached, where,
            "no gradient reaches the backbone's parameters through forward_spatial (torch.no_grad or .detach() "
            "inside it?): detection and segmentation fine-tune through this view",
        )


def _check_round_trip(
    backbone: Backbone, spec: BackboneSpec | None, images: torch.Tensor, expected: Views, where: str
) -> None:
    import torch

    from catlip_bench.backbone import load_checkpoint, load_weights
    from catlip_bench.errors import CatlipBenchError

    with torch.no_grad():
        fresh = (spec.build() if spec is not None else copy.deepcopy(backbone)).to(images.device).eval()
        generator = torch.Generator().manual_seed(3)
        for value in fresh.state_dict().values():  # shift every weight: the load below must restore them all
            if isinstance(value, torch.Tensor) and value.is_floating_point():
                value.add_(torch.rand(value.shape, generator=generator).to(value) + 0.1)
        scrambled = _views(fresh, images)
        _require(
            any(not torch.allclose(a, b) for a, b in zip(scrambled, expected, strict=True)), where,
            "changing every state_dict entry did not change the features: the weights are not in the state_dict",
        )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "state_dict.pt"
            torch.save(backbone.state_dict(), path)
            try:
                report = load_weights(fresh, load_checkpoint(path), min_fraction=1.0, source=str(path))
            except CatlipBenchError as error:
                raise AssertionError(f"{where}: {error}") from None
        _require(
            not report.missing and not report.unexpected, where,
            f"load report after loading the module's own state_dict: missing {report.missing[:3]}, "
            f"unexpected {report.unexpected[:3]}",
        )
        for name, got, want in zip(("forward_pooled", "forward_spatial"), _views(fresh, images), expected, strict=True):
            _require_close(got, want, SAME, where, f"{name} of the original and of a fresh build loaded from its state_dict")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("catlip-bench").addoption(
        "--catlip-device", default="cpu", help="device for catlip-bench backbone conformance checks (default: cpu)"
    )


@pytest.fixture
def backbone_conformance(request: pytest.FixtureRequest) -> Callable[..., None]:
    """`check_backbone` bound to the device given by `--catlip-device`."""
    return partial(check_backbone, device=request.config.getoption("catlip_device"))


def conformance_test(*names: str, image_size: int | None = None) -> Callable[..., None]:
    """A test that checks each named backbone: `test_conformance = conformance_test("my-net")`."""

    @pytest.mark.parametrize("backbone_name", names)
    def test_conformance(backbone_name: str, backbone_conformance: Callable[..., None]) -> None:
        backbone_conformance(backbone_name, image_size=image_size)

    return test_conformance
