"""`catlip-bench labels extract` and `catlip-bench labels vocab`."""

from __future__ import annotations

import argparse
import json
import os
import sys

from catlip_bench.errors import CatlipBenchError
from catlip_bench.labels.extract import MODES, extractor
from catlip_bench.labels.sources import read_captions
from catlip_bench.labels.vocab import build_vocabulary


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `labels extract` and `labels vocab` to the `catlip-bench` parser."""
    labels = sub.add_parser("labels", help="caption -> WordNet synset labels and vocabularies")
    commands = labels.add_subparsers(dest="labels_command", required=True, metavar="COMMAND")

    p = commands.add_parser(
        "extract", help="print each caption's synsets",
        description="Per caption, one line per synset: key<TAB>name, in caption order; captions are separated "
                    "by a blank line. With --json: one JSON object per caption and line.")
    p.add_argument("--mode", choices=MODES, default="corenet", help="labelling rules (default: %(default)s)")
    p.add_argument("--json", action="store_true", help='print {"caption", "synsets": [{"key", "name"}]} per line')
    p.add_argument("captions", nargs="+", metavar="CAPTION")
    p.set_defaults(func=_extract)

    p = commands.add_parser("vocab", help="count synsets over a caption file, cut, save; print the coverage report")
    p.add_argument("--captions", required=True, metavar="FILE",
                   help="one caption per line, or a .tsv/.csv with a 'caption' column")
    cut = p.add_mutually_exclusive_group(required=True)
    cut.add_argument("--min-count", type=int, metavar="N", help="keep synsets seen at least N times (paper: 500)")
    cut.add_argument("--top-k", type=int, metavar="K", help="keep the K most frequent synsets (CoreNet: 24320)")
    p.add_argument("--mode", choices=MODES, default="corenet", help="labelling rules (default: %(default)s)")
    p.add_argument("--out", required=True, metavar="FILE", help="vocabulary TSV to write (key, name, count, rank)")
    p.set_defaults(func=_vocab)


def _extract(args: argparse.Namespace) -> int:
    labeller = extractor(args.mode)
    for number, raw in enumerate(args.captions):
        caption = os.fsencode(raw).decode("utf-8", "replace")  # argv bytes that are not UTF-8 become U+FFFD
        synsets = labeller.synsets(caption)
        if args.json:
            print(json.dumps({"caption": caption, "synsets": [s._asdict() for s in synsets]}, ensure_ascii=False))
            continue
        if number:
            print()
        for synset in synsets:
            print(f"{synset.key}\t{synset.name}")
    return 0


def _vocab(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    captions = tqdm(read_captions(args.captions), desc="labelling", unit=" captions", disable=None, file=sys.stderr)
    vocabulary, report = build_vocabulary(captions, mode=args.mode, min_count=args.min_count, top_k=args.top_k)
    if report.captions == 0:
        raise CatlipBenchError(f"{args.captions} holds no captions: one per line, or a CSV/TSV with a caption column")
    path = vocabulary.save(args.out)
    print(report)
    print(f"wrote {path}: {len(vocabulary)} synsets, sha256 {vocabulary.digest()[:16]}")
    return 0
