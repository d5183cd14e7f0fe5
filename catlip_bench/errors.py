"""The one exception type that the CLI turns into a one-line error."""


class CatlipBenchError(Exception):
    """A user-facing problem: the message names the file, key or name and what to do."""
