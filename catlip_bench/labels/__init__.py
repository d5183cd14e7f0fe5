"""Captions -> WordNet noun synsets (CoreNet's rules, or the paper's nouns-only reading)."""
