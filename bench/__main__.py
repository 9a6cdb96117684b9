"""Run every benchmark module in this package and print its tables (``python -m bench``).

``python -m bench audio_engine`` runs only the named modules.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    """Import each ``bench.<module>`` with a ``run()`` and print the tables it returns."""
    here = Path(__file__).parent
    names = [m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_")]
    wanted = argv or names
    failed = 0
    for name in sorted(names):
        if name not in wanted:
            continue
        module = importlib.import_module(f"bench.{name}")
        run = getattr(module, "run", None)
        if run is None:
            continue
        print(f"## bench.{name}\n", flush=True)
        start = time.perf_counter()
        try:
            tables = run()
        except Exception as exc:  # one broken benchmark must not hide the others
            failed += 1
            print(f"bench.{name} failed: {exc!r}\n", flush=True)
            continue
        for table in tables:
            print(table.to_markdown(), flush=True)
        print(f"_bench.{name} took {time.perf_counter() - start:.0f} s_\n", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
