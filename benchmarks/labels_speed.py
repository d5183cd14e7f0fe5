"""Caption labelling speed: the released code's per-caption loop vs the product's `corenet` extractor.

Captions (real text, offline): every Tux Paint caption, then WordNet 3.0's noun glosses and usage examples in
offset order, up to `--captions` (default 50,000). The reference labels them one by one as CoreNet does; the
product labels the list with `Extractor.batch` from empty caches. Each side runs in a fresh interpreter (NLTK's
own caches start cold for both) and is timed after WordNet is loaded. The labels must be identical.

    .venv/bin/python benchmarks/labels_speed.py [--captions 50000]

Needs `catlip-bench data prepare nltk demo`.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from catlip_bench.data import tuxpaint
from catlip_bench.data.nltk_data import ensure_nltk
from catlip_bench.labels import Extractor, Synset
from catlip_bench.labels.reference import reference_synsets
from catlip_bench.labels.text import caption_text, clean_caption, safe_chunks


def benchmark_captions(count: int) -> list[str]:
    """`count` real captions: Tux Paint's, then WordNet noun glosses and examples (deterministic order)."""
    ensure_nltk()
    from nltk.corpus import wordnet

    captions = list(tuxpaint.read_index()["caption"])
    for synset in sorted(wordnet.all_synsets("n"), key=lambda s: s.offset()):
        if len(captions) >= count:
            break
        captions += [synset.definition(), *synset.examples()]
    if len(captions) < count:
        raise SystemExit(f"only {len(captions)} captions available, asked for {count}")
    return captions[:count]


def reference_loop(captions: list[str]) -> list[list[Synset]]:
    return [reference_synsets(caption) for caption in captions]


def label_in_this_process(side: str, captions: list[str]) -> tuple[list[list[Synset]], float]:
    """Label `captions` with one side, timed after WordNet and the tagger are loaded (not labelling work)."""
    reference_synsets("warm up")
    if side == "reference":
        label: Callable[[list[str]], list[list[Synset]]] = reference_loop
    else:
        product = Extractor("corenet")
        label = product.batch
    start = time.perf_counter()
    labels = label(captions)
    return labels, time.perf_counter() - start


def label_in_fresh_process(side: str, captions: list[str]) -> tuple[list[list[Synset]], float]:
    """Each side in its own new interpreter: neither inherits the other's warm NLTK caches."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(label_in_this_process, side, captions).result()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captions", type=int, default=50_000, help="how many captions (default: %(default)s)")
    args = parser.parse_args(argv)

    captions = benchmark_captions(args.captions)
    fast_share = sum(safe_chunks(clean_caption(caption_text(c) or "")) is not None for c in captions) / len(captions)
    ours, ours_s = label_in_fresh_process("corenet", captions)
    theirs, theirs_s = label_in_fresh_process("reference", captions)
    different = [(c, a, b) for c, a, b in zip(captions, ours, theirs, strict=True) if a != b]
    print(f"captions             {len(captions)} (fast tokenizer path: {fast_share:.1%})")
    print(f"reference loop       {len(captions) / theirs_s:10.0f} captions/s  ({theirs_s:.1f} s)")
    print(f"corenet extractor    {len(captions) / ours_s:10.0f} captions/s  ({ours_s:.1f} s)")
    print(f"speed-up             {theirs_s / ours_s:10.1f}x")
    print(f"labels identical     {not different} ({sum(map(len, ours))} synset labels)")
    for caption, a, b in different[:5]:
        print(f"  {caption!r}: extractor {[s.key for s in a]} vs reference {[s.key for s in b]}", file=sys.stderr)
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
