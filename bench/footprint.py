"""Storage benchmark: the bytes a production of three versions of a 4-minute remix keeps.

Runs the seed remix conversation the way ``make demo`` does (``vyke demo``: the generated demo
song remixed to Afro Circuit, then "Bass too loud, needs more sidechain", then a filter sweep on
bars 33-48: three versions of the genre's full form, 4 min 21 s with the tail) in a fresh
process into a temporary folder, and counts every byte under its data folder: the productions,
the caches and the database. Each file counts once however many hard links it has (a version's
tracks share their bytes with the render cache), and as allocated on disk (``st_blocks``: a
sparse file counts what it holds). The demo's own copies next to the transcript are hard links
into the data folder and the generated song is not the production's, so neither is counted.

Before: the same conversation and the same count on the code before the storage work (commit
3badce1): 3.46 GB (three 484 MB project zips of 24-bit WAV stems, 1.2 GB of processed tracks
in the render cache). Target: at most 1 GB (0.97 GB measured: one project zip of FLAC, FLAC
masters, tracks and stems, and a chain cache of one array per track). ``python -m bench.footprint --measure DIR`` counts
an existing data folder instead (for instance ``out/demo/data`` after ``make demo``), and
``--out out/demo`` keeps the demo's folder. The results are also written to
``bench/RESULTS-footprint.md``.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bench._table import Table, machine

__all__ = ["BEFORE", "CATEGORIES", "Footprint", "measure", "run"]

_ROOT = Path(__file__).resolve().parents[1]
_RESULTS = Path(__file__).with_name("RESULTS-footprint.md")
_TARGET_BYTES = 1_000_000_000
_TIMEOUT_S = 1200.0

CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("project zips", ("blobs/*.zip", "productions/*/v*/export/*.zip")),
    ("tracks' audio (render cache, linked into each version)",
     ("cache/render/*/raw/*", "productions/*/v*/tracks/*")),
    ("separated stems (separation cache, linked into the production)",
     ("cache/stems/*", "productions/*/stems/*")),
    # in the artifact store a blob is named by its content: audio no cache links is a master
    # (the upload, a WAV here, is counted with them)
    ("masters (one per version)",
     ("blobs/*.wav", "blobs/*.flac", "productions/*/v*/master.wav")),
    ("processed tracks (render chain cache)", ("cache/render/*/mixed/*",)),
    ("previews and clips (MP3)", ("*.mp3",)),
    ("uploads", ("productions/*/uploads/*",)),
)
"""What each byte is, by the path of any of its links (``fnmatch``, ``*`` also crosses ``/``);
the first category that matches wins, anything else is "everything else". The artifact store's
``blobs/`` share their inodes with the caches' files (tracks, stems), so those are found by
their cache path; the older per-version folders are still recognised for "before" counts."""

_OTHER = "everything else (pictures, JSON, database, sample kits, analysis)"

BEFORE: dict[str, int] = {
    "project zips": 1_451_225_088,
    "masters (one per version)": 207_224_832,
    "tracks' audio (render cache, linked into each version)": 483_536_896,
    "separated stems (separation cache, linked into the production)": 67_751_936,
    "processed tracks (render chain cache)": 1_197_391_872,
    "previews and clips (MP3)": 33_775_616,
    "uploads": 0,
    _OTHER: 20_930_560,
}
"""The demo's data folder on commit 3badce1 (before FLAC stems, a single project zip, sparse and
mono chain arrays and the cache limit), counted by :func:`measure`."""


@dataclass(frozen=True)
class Footprint:
    """Allocated bytes under a folder by category, each file counted once."""

    by_category: dict[str, int]
    files: int

    @property
    def total(self) -> int:
        return sum(self.by_category.values())


def _category(relative_paths: Iterable[str]) -> str:
    paths = list(relative_paths)
    for name, patterns in CATEGORIES:
        if any(fnmatch.fnmatch(path, pattern) for path in paths for pattern in patterns):
            return name
    return _OTHER


def measure(root: Path) -> Footprint:
    """Count the bytes under ``root``: each inode once, as allocated, by :data:`CATEGORIES`."""
    links: dict[tuple[int, int], list[str]] = {}
    sizes: dict[tuple[int, int], int] = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            try:
                stat = path.lstat()
            except FileNotFoundError:
                continue
            inode = (stat.st_dev, stat.st_ino)
            links.setdefault(inode, []).append(path.relative_to(root).as_posix())
            sizes[inode] = stat.st_blocks * 512
    totals = {name: 0 for name, _ in CATEGORIES} | {_OTHER: 0}
    for inode, paths in links.items():
        totals[_category(paths)] += sizes[inode]
    return Footprint(by_category=totals, files=len(links))


def _demo(out: Path) -> float:
    """``vyke demo --out out`` in a fresh process with this checkout's code; returns seconds."""
    env = {**os.environ, "PYTHONPATH": str(_ROOT)}
    for name in ("VYKE_DATA_DIR", "VYKE_CACHE_DIR", "VYKE_MAX_BARS"):
        env.pop(name, None)  # the demo's own folders and the genre's full length
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bot.cli", "demo", "--out", str(out)],
                          cwd=_ROOT, env=env, capture_output=True, text=True,
                          timeout=_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"vyke demo failed ({done.returncode}): {done.stderr[-2000:]}")
    return time.perf_counter() - start


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 100_000_000 else f"{n / 1e6:.1f} MB"


def _table(after: Footprint, *, seconds: float | None, versions: int) -> Table:
    rows = [[name, _gb(BEFORE.get(name, 0)), _gb(after.by_category[name])]
            for name in after.by_category]
    before_total = sum(BEFORE.values())
    verdict = "met" if after.total <= _TARGET_BYTES else "**missed**"
    rows.append(["**total (data plus caches)**", f"**{_gb(before_total)}**",
                 f"**{_gb(after.total)}** (target ≤ 1 GB: {verdict})"])
    notes = [f"{versions} versions of the seed remix (Afro Circuit, 126 BPM, the genre's full "
             "form: 4 min 21 s with the tail); bytes as allocated on disk, each file once.",
             "Before: commit 3badce1, measured the same way (the column is that run, recorded).",
             "After: the chain cache keeps one array per track, what the next mix change reads "
             "(a staged track's filtered signal, the others' chain output), and the return "
             "buses; the newest version's render forgets what the earlier versions kept and it "
             "does not read. Masters are 24-bit FLAC."]
    if seconds is not None:
        notes.append(f"The conversation took {seconds:.0f} s on {machine()}.")
    return Table("Storage a production keeps: three versions of a 4-minute remix",
                 ["what", "before", "after"], rows, notes)


def _versions(data: Path) -> int:
    """How many versions the data folder holds: named in the artifact store's manifests
    (``v1/master.flac``…), or the older per-version folders."""
    found = set()
    for manifest in data.glob("manifests/*.json"):
        names = json.loads(manifest.read_text(encoding="utf-8"))
        found |= {(manifest.stem, name.split("/", 1)[0]) for name in names
                  if re.fullmatch(r"v\d+", name.split("/", 1)[0])}
    return len(found) or len(list(data.glob("productions/*/v[0-9]*")))


def run(out: Path | None = None) -> list[Table]:
    """Run the demo conversation (into ``out``, kept; else a temporary folder) and count what
    its data folder keeps."""
    with tempfile.TemporaryDirectory(prefix="vyke-footprint-") as tmp:
        folder = out or Path(tmp) / "demo"
        seconds = _demo(folder)
        data = folder / "data"
        after = measure(data)
        table = _table(after, seconds=seconds, versions=_versions(data))
    _RESULTS.write_text("# Storage footprint results\n\nProduced by `python -m bench footprint`."
                        "\n\n" + table.to_markdown(), encoding="utf-8")
    return [table]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.footprint", description=__doc__)
    parser.add_argument("--measure", type=Path, help="count this data folder instead of running")
    parser.add_argument("--out", type=Path, help="run the demo into this folder and keep it")
    args = parser.parse_args(argv)
    if args.measure is None:
        tables = run(args.out)
    else:
        found = measure(args.measure)
        tables = [_table(found, seconds=None, versions=_versions(args.measure))]
    for table in tables:
        print(table.to_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
