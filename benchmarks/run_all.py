"""Run every benchmark in turn (``make bench``); each writes benchmarks/results/<name>.json."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    "bench_lsp.py",
    "bench_review.py",
    "bench_history.py",
    "bench_check.py",
    "bench_static.py",
    "bench_linters.py",
    "bench_search.py",
    "bench_languages.py",
    "bench_router.py",
    "bench_first_call.py",
    "bench_precision.py",
    "bench_synthesis.py",
    "bench_soak.py",
    "bench_fixes.py",
    "bench_rules.py",
    "bench_crossfile.py",
    "bench_symbols.py",  # needs KAIZEN_BENCH_TS_REPO (a TypeScript checkout); skips without
]


def main() -> int:
    failed = []
    for name in BENCHES:
        path = HERE / name
        if not path.exists():
            continue
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(path)], cwd=HERE.parent)
        print(f"== {name}: exit {code} in {time.perf_counter() - started:.0f} s\n", flush=True)
        if code:
            failed.append(name)
    if failed:
        print("failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
