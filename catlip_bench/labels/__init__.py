"""Captions -> WordNet noun synsets (CoreNet's rules, or the paper's nouns-only reading), vocabularies, class names."""

from catlip_bench.labels.classnames import ClassMatch, from_wnid, match_class_names, to_wnid
from catlip_bench.labels.extract import MODES, Extracted, Extractor, Synset, extractor
from catlip_bench.labels.vocab import CoverageReport, Vocabulary, build_vocabulary

__all__ = [
    "MODES",
    "ClassMatch",
    "CoverageReport",
    "Extracted",
    "Extractor",
    "Synset",
    "Vocabulary",
    "build_vocabulary",
    "extractor",
    "from_wnid",
    "match_class_names",
    "to_wnid",
]
