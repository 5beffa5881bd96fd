"""TypeScript and JavaScript imports: relative paths, extensions and index files,
tsconfig/jsconfig ``baseUrl`` and ``paths``.

``import { a } from "./util"`` may mean util.ts, util.tsx, util.d.ts, util.js, util/index.ts
...; TypeScript's ESM style writes ``"./util.js"`` for util.ts. A bare specifier goes through
the nearest tsconfig.json / jsconfig.json (``paths`` patterns with one ``*``, then
``baseUrl``, following a relative ``extends``); what none of them maps is a package from
node_modules: a library, named and not expanded. ``export ... from`` re-exports are followed
by the context pack (it sees the re-exporting file's imports in the symbol index).
"""

from __future__ import annotations

from pathlib import Path

from .base import existing, find_up, read_jsonc

EXTENSIONS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
SUFFIXES = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
_JS_TO_TS = {".js": (".ts", ".tsx"), ".jsx": (".tsx",), ".mjs": (".mts",), ".cjs": (".cts",)}


def _candidates(target: Path) -> list[Path]:
    """What the module ``target`` (a path without or with an extension) may be on disk."""
    out = [target]
    for ext, replacements in _JS_TO_TS.items():
        if target.name.endswith(ext):
            out.extend(target.with_suffix(r) for r in replacements)
    out.extend(target.with_name(target.name + ext) for ext in EXTENSIONS)
    out.extend(target / f"index{ext}" for ext in EXTENSIONS)
    return out


def _config(here: Path, root: Path | None) -> tuple[Path, dict[str, object]] | None:
    """The nearest tsconfig.json or jsconfig.json and its compilerOptions, ``extends``
    followed (relative paths only: a package's base config holds no paths of ours)."""
    found = find_up(here, root, ("tsconfig.json", "jsconfig.json"))
    if found is None:
        return None
    options: dict[str, object] = {}
    base_dir = found.parent
    chain: list[Path] = []
    current: Path | None = found
    while current is not None and current not in chain and len(chain) < 8:
        chain.append(current)
        data = read_jsonc(current)
        extends = data.get("extends")
        current = None
        if isinstance(extends, str) and extends.startswith("."):
            parent = (chain[-1].parent / extends).resolve()
            current = parent if parent.suffix == ".json" else parent.with_suffix(".json")
    for cfg in reversed(chain):  # the base first, the nearest file's options win
        opts = read_jsonc(cfg).get("compilerOptions")
        if isinstance(opts, dict):
            if "baseUrl" in opts or "paths" in opts:
                base_dir = cfg.parent
            options.update(opts)
    options["__dir__"] = str(base_dir)
    return found, options


def _mapped(spec: str, options: dict[str, object]) -> list[Path]:
    config_dir = Path(str(options["__dir__"]))
    base_url = options.get("baseUrl")
    base = (config_dir / base_url) if isinstance(base_url, str) else config_dir
    out: list[Path] = []
    paths = options.get("paths")
    if isinstance(paths, dict):
        # the longest matching prefix wins, as in TypeScript
        for pattern in sorted(paths, key=lambda p: -len(p.split("*")[0])):
            targets = paths[pattern]
            if not isinstance(targets, list):
                continue
            if "*" in pattern:
                prefix, _, suffix = pattern.partition("*")
                if not (spec.startswith(prefix) and spec.endswith(suffix)):
                    continue
                star = spec[len(prefix) : len(spec) - len(suffix) if suffix else None]
            elif pattern == spec:
                star = ""
            else:
                continue
            for t in targets:
                if isinstance(t, str):
                    out.append(base / t.replace("*", star))
            if out:
                return out
    if isinstance(base_url, str):
        out.append(base / spec)
    return out


def resolve(spec: str, here: Path, root: Path | None) -> list[Path]:
    """The workspace files ``spec`` imported from ``here`` may be; [] for a package."""
    if spec.startswith((".", "/")):
        targets = [(here.parent / spec) if spec.startswith(".") else Path(spec)]
    else:
        config = _config(here, root)
        targets = _mapped(spec, config[1]) if config is not None else []
    for target in targets:
        found = existing(_candidates(target), root)
        if found:
            return found[:1]
    return []


def neighbours(here: Path, root: Path | None) -> list[Path]:
    """Nothing is visible in a JS/TS module without an import."""
    return []
