"""`catlip-bench plugin new`: write a ready third-party backbone plugin package."""

from __future__ import annotations

import argparse
import re
from importlib import metadata, resources
from pathlib import Path
from string import Template

from catlip_bench.errors import CatlipBenchError

NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
MAX_NAME_LENGTH = 40
# template (catlip_bench/templates/plugin/) -> path inside the new package
FILES = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "module.py.tmpl": "catlip_bench_{module}.py",
    "test_module.py.tmpl": "tests/test_{module}.py",
}


def new_plugin(name: str, directory: Path) -> Path:
    """Write the plugin package `catlip-bench-NAME/` (backbone and entry point `NAME`) into `directory`."""
    if not NAME_PATTERN.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise CatlipBenchError(
            f"plugin name {name!r} is not valid: use lower-case letters and digits, words joined by - or _, "
            f"starting with a letter, at most {MAX_NAME_LENGTH} characters (e.g. my-convnet)"
        )
    _refuse_taken(name)
    target = directory / f"catlip-bench-{name}"
    if target.exists():
        raise CatlipBenchError(f"{target} already exists: pick another name or another --dir")
    if directory.exists() and not directory.is_dir():
        raise CatlipBenchError(f"--dir {directory} is a file, not a folder")
    module = name.replace("-", "_")
    templates = resources.files("catlip_bench") / "templates" / "plugin"
    rendered = {
        target / relative.format(module=module): Template((templates / template).read_text()).substitute(
            name=name, module=module
        )
        for template, relative in FILES.items()
    }
    for path, text in rendered.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return target


def _refuse_taken(name: str) -> None:
    """A name already used by an installed entry point or a registered backbone would clash once installed."""
    from catlip_bench.plugins import ENTRY_POINT_GROUP, registries

    if any(entry.name == name for entry in metadata.entry_points(group=ENTRY_POINT_GROUP)):
        raise CatlipBenchError(f"an installed plugin already has the entry point {name!r}: pick another name")
    backbones = registries().backbones
    if name in backbones:
        raise CatlipBenchError(
            f"backbone {name!r} is already registered by plugin {backbones.owner(name)!r}: pick another name"
        )


def _new(args: argparse.Namespace) -> int:
    target = new_plugin(args.name, args.dir)
    print(f"wrote {target}: `pip install -e {target}`, then `catlip-bench list backbones` shows {args.name!r}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add `plugin new`."""
    plugin = sub.add_parser("plugin", help="plugin tools: `plugin new NAME` writes a backbone plugin package")
    actions = plugin.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = actions.add_parser("new", help="write catlip-bench-NAME/: pyproject with the entry point, a backbone, a test")
    p.add_argument("name", metavar="NAME", help="plugin, entry point and backbone name, e.g. my-convnet")
    p.add_argument("--dir", type=Path, default=Path("."), help="where to write the package (default: current folder)")
    p.set_defaults(func=_new)
