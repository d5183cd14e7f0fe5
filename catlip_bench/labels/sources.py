"""Caption files: one caption per line, or a TSV/CSV with a `caption` column. Streamed; nothing is dropped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from catlip_bench.errors import CatlipBenchError

TABLE_SEPARATORS = {".tsv": "\t", ".csv": ","}
CAPTION_COLUMN = "caption"


def read_captions(path: str | Path, column: str = CAPTION_COLUMN) -> Iterator[str | bytes]:
    """Yield the captions of `path`. A plain file yields each line as bytes (invalid UTF-8 then counts as a bad
    caption instead of failing the file); a .tsv/.csv yields its `column` (undecodable bytes kept as surrogates,
    which the extractor also counts as bad)."""
    path = Path(path)
    if not path.is_file():
        raise CatlipBenchError(f"captions file {path} not found")
    separator = TABLE_SEPARATORS.get(path.suffix.lower())
    if separator is None:
        with open(path, "rb") as handle:
            for line in handle:
                yield line.rstrip(b"\r\n")
        return
    yield from _table_column(path, separator, column)


def _table_column(path: Path, separator: str, column: str) -> Iterator[str]:
    import pandas as pd

    options = dict(sep=separator, dtype=str, keep_default_na=False, encoding_errors="surrogateescape")
    try:
        header = list(pd.read_csv(path, nrows=0, **options).columns)
        if column not in header:
            raise CatlipBenchError(
                f"captions file {path} has no {column!r} column (columns: {', '.join(map(str, header)) or 'none'}): "
                f"name the caption column {column!r}")
        for chunk in pd.read_csv(path, usecols=[column], chunksize=100_000, **options):
            yield from chunk[column].tolist()
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeError) as error:
        raise CatlipBenchError(f"captions file {path} is not a readable {path.suffix[1:].upper()}: {error}") from error
