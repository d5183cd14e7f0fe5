"""catlip-bench: pre-train and benchmark vision backbones the CatLIP way."""
