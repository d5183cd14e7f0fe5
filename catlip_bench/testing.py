"""Conformance kit for backbone plugins (pytest plugin)."""
