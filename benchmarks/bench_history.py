"""Real edits, replayed (issue 26): what a save costs when the edit is a real commit.

For each of the last N non-merge commits of real repositories, and each supported file the
commit changed (added and deleted files have nothing to compare): the parent commit's tree
is written to a fresh workspace (so the review cache starts cold), the file's parent text
is opened in one Kaizen language server and reviewed fully, then the commit's text is saved.
The model is the scripted, instantly answering server; every request it receives is counted.

Per saved file:
- the prompt tokens of the save (every task: detection and fixes) against a full review of
  the saved text, what the save would cost without the review cache (targets: median
  <= 10%, 90th percentile <= 30%); beside it, against the full review of the parent text
  (the first measure of this benchmark: a commit that doubles a file costs over 100% there,
  though the save sent only the new half);
- the share of the file's definitions the commit touched (the floor a save could cost);
- finding stability on untouched definitions: a definition whose text and context pack are
  the same before and after keeps exactly its findings (fingerprint, message, place in the
  unit), with a model that words every answer anew (target 100%).

Repositories are bare git directories (``fetch``-ed mirrors or clones), given as arguments
or in ``KAIZEN_HISTORY_REPOS`` (separated by ``:``); absent, the benchmark says so and skips.

    python benchmarks/bench_history.py [--commits 50] [REPO_GIT_DIR ...]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from benchmarks.bench_review import model_options, start, stop
from benchmarks.common import percentile, save
from tests.fixtures.editing import edit_and_save
from tests.fixtures.scripted_model import ScriptedModel

DEFINITIONS = ("function", "method", "class")
LANGUAGE_IDS = {".py": "python", ".ts": "typescript", ".tsx": "typescriptreact"}
FLAGGED = ("raise ", "throw ", "return None", "return null", " / ")


def git(git_dir: Path, *args: str) -> bytes:
    return subprocess.run(
        ["git", "--git-dir", str(git_dir), *args], check=True, capture_output=True
    ).stdout


def commits(git_dir: Path, count: int) -> list[str]:
    out = git(git_dir, "log", "--no-merges", "--format=%H", f"-{count}", "HEAD").decode()
    return [c for c in out.split() if c]


def changed_files(git_dir: Path, commit: str, suffixes: tuple[str, ...]) -> list[str]:
    """Files the commit modified (not added, not deleted) with a supported suffix."""
    out = git(
        git_dir,
        "diff-tree",
        "--no-commit-id",
        "-r",
        "--diff-filter=M",
        "--name-only",
        f"{commit}^",
        commit,
    ).decode()
    return [p for p in out.splitlines() if p.endswith(suffixes)]


def materialise(git_dir: Path, commit: str, into: Path, suffixes: tuple[str, ...]) -> None:
    """The supported files of ``commit``'s tree under ``into`` (a project root)."""
    data = git(git_dir, "archive", "--format=tar", commit)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(suffixes)]
        tar.extractall(into, members=members, filter="data")
    (into / ".git").mkdir(exist_ok=True)


def show(git_dir: Path, commit: str, path: str) -> str | None:
    try:
        return git(git_dir, "show", f"{commit}:{path}").decode("utf-8")
    except (subprocess.CalledProcessError, UnicodeDecodeError):
        return None


def reworded(body: dict[str, Any]) -> dict[str, Any]:
    """A nondeterministic model: flags every line of ``FLAGGED`` (``raise``/``throw``,
    ``return None``/``null``, a division) it is shown, worded anew each time (a re-reviewed
    unit's findings change their words)."""
    prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
    code = prompt.split("Code:", 1)[-1]
    issues = []
    for line in code.splitlines():
        number, _, text = line.partition(" | ")
        if number.strip().isdigit() and any(f in text for f in FLAGGED):
            issues.append(
                {
                    "line": int(number),
                    "severity": "warning",
                    "category": "bug",
                    "message": f"check this path (take {random.randint(0, 10**6)})",
                    "snippet": text.strip(),
                }
            )
    return {"issues": issues}


async def settled(client: Any, uri: str) -> None:
    """Until no run for ``uri`` is pending. The wait for a publish is bounded without
    cancelling pytest-lsp's waiter (a cancelled one breaks the client's reader when the
    next publish arrives: see tests/conftest.py's ``wait_for_diagnostics``)."""
    from lsprotocol import types

    while True:
        status = await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="kaizen.getStatus", arguments=[{}])
        )
        if uri not in (status or {}).get("pending", []):
            return
        waiter = client.protocol.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        await asyncio.wait([asyncio.wrap_future(waiter)], timeout=0.5)


def prompt_tokens(requests: list[dict[str, Any]]) -> int:
    return (
        sum(len(str(m.get("content", ""))) for r in requests for m in r["body"].get("messages", []))
        // 4
    )


def code_tokens(requests: list[dict[str, Any]]) -> int:
    """The tokens of the prompts' code sections alone (the numbered lines under ``Code:``):
    a save's share of these is what it re-sends of the file, without the fixed part every
    prompt pays (instructions, answer shape, learnings, context)."""
    total = 0
    for r in requests:
        for m in r["body"].get("messages", []):
            code = str(m.get("content", "")).split("\nCode:\n```", 1)
            if len(code) == 2:
                total += len(code[1].split("\n", 1)[-1].rsplit("```", 1)[0])
    return total // 4


@dataclass
class Saved:
    repo: str
    commit: str
    path: str
    full_tokens: int  # the full review of the parent text
    save_tokens: int
    full_new_tokens: int  # a full review of the saved text (cold cache)
    definitions: int
    touched: int
    changed_units: float  # share of the new text in units new or changed (the floor)
    save_code: int = 0  # the code sections' tokens alone (``code_tokens``)
    full_new_code: int = 0
    stable: int = 0
    checks: int = 0
    unstable: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.save_tokens / max(self.full_new_tokens, 1)

    @property
    def code_ratio(self) -> float:
        return self.save_code / max(self.full_new_code, 1)

    @property
    def ratio_parent(self) -> float:
        return self.save_tokens / max(self.full_tokens, 1)


def workspace_index(root: Path) -> Any:
    """The root's symbol index, as the server builds it: the other languages' packs read
    signatures of other files from it (Python's read the files)."""
    from kaizen.app.symbols import indexed_language
    from kaizen.languages import outline
    from kaizen.languages.symbols import SymbolIndex

    index = SymbolIndex(root, outline, indexed_language)
    index.build()
    return index


def _views(
    text: str, language: str, path: Path, root: Path, index: Any = None
) -> dict[str, tuple[str, str]]:
    """unit -> (its normalised text, its context pack), as the review sees them."""
    from kaizen.languages.context_pack import build_pack
    from kaizen.languages.parsed import parse

    done = parse(text, language)
    out = {}
    for unit in done.units:
        pack = build_pack(
            unit, done.facts, path, root, 800, language=language, index=index, text=text
        ).text
        out[f"{unit.kind} {unit.name}"] = (unit.normalised(), pack)
    return out


def _definitions(views: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    return {k: v for k, v in views.items() if k.split(" ", 1)[0] in DEFINITIONS}


def _changed_share(before: dict[str, tuple[str, str]], after: dict[str, tuple[str, str]]) -> float:
    """The share (in characters) of the new text's units that are new or changed: the least
    a save has to send."""
    total = sum(len(text) for text, _ in after.values()) or 1
    return sum(len(v[0]) for k, v in after.items() if before.get(k) != v) / total


def _findings(diagnostics: list[Any], text: str, language: str) -> dict[str, set[tuple]]:
    """definition -> its findings as (fingerprint, message, index of the line in the unit)."""
    from kaizen.languages.parsed import parse
    from kaizen.languages.units import unit_of

    units = list(parse(text, language).units)
    out: dict[str, set[tuple]] = {}
    for d in diagnostics:
        if d.code != "bug":
            continue
        unit = unit_of(units, d.range.start.line + 1)
        if unit is None or unit.kind not in DEFINITIONS:
            continue
        key = f"{unit.kind} {unit.name}"
        message = d.message.split(" (confidence ")[0]
        out.setdefault(key, set()).add(
            (d.data["fingerprint"], message, unit.index_of(d.range.start.line + 1))
        )
    return out


def language_of(path: Path, language_id: str) -> str:
    from kaizen.core.workspace import language_of as named

    return named(path, language_id)


async def replay(
    git_dir: Path, count: int, suffixes: tuple[str, ...], server: Path | None = None
) -> list[Saved]:
    from lsprotocol import types

    name = git_dir.parent.name if git_dir.name in ("repo", ".git") else git_dir.name
    saved: list[Saved] = []
    with ScriptedModel() as scripted, tempfile.TemporaryDirectory() as tmp:
        scripted.set_default("issue_detector", reworded)
        scripted.set_default("fix_generator", {"fixes": []})
        base = Path(tmp)
        client = await start(
            tempfile.mkdtemp(dir=tmp),
            base,
            model_options(
                scripted,
                staticPrepass={"enabled": False},
                review={"minConfidence": 0, "demoteBelow": 0},
            ),
            server,
        )
        try:
            for i, commit in enumerate(commits(git_dir, count)):
                files = changed_files(git_dir, commit, suffixes)
                if not files:
                    continue
                root = base / f"c{i:03d}"
                materialise(git_dir, f"{commit}^", root, suffixes)
                index = workspace_index(root) if suffixes != (".py",) else None
                for rel in files:
                    old, new = show(git_dir, f"{commit}^", rel), show(git_dir, commit, rel)
                    if old is None or new is None or old == new:
                        continue
                    path = root / rel
                    language_id = LANGUAGE_IDS[path.suffix]
                    language = language_of(path, language_id)
                    uri = path.as_uri()
                    full = await opened(client, scripted, uri, language_id, old)
                    before = _findings(client.diagnostics.get(uri, []), old, language)
                    views_before = _views(old, language, path, root, index)
                    path.write_text(new, encoding="utf-8")
                    if index is not None:
                        index.update(path, new)
                    mark = len(scripted.requests)
                    edit_and_save(client, uri, 2, new)
                    await asyncio.sleep(0)
                    await settled(client, uri)
                    cost = prompt_tokens(scripted.requests[mark:])
                    cost_code = code_tokens(scripted.requests[mark:])
                    if dump := os.environ.get("KAIZEN_HISTORY_DUMP"):  # to see what a save sent
                        out = Path(dump) / f"{name}-{commit[:10]}-{rel.replace('/', '_')}.txt"
                        out.parent.mkdir(parents=True, exist_ok=True)
                        out.write_text(
                            "\n\n=====\n\n".join(
                                f"[{r['task']}]\n"
                                + "\n".join(
                                    str(m.get("content", "")) for m in r["body"]["messages"]
                                )
                                for r in scripted.requests[mark:]
                            )
                        )
                    after = _findings(client.diagnostics.get(uri, []), new, language)
                    mark = len(scripted.requests)
                    full_new = await full_review(client, scripted, path, language_id, new)
                    full_new_code = code_tokens(scripted.requests[mark:])
                    views_after = _views(new, language, path, root, index)
                    client.text_document_did_close(
                        types.DidCloseTextDocumentParams(
                            text_document=types.TextDocumentIdentifier(uri=uri)
                        )
                    )
                    floor = _changed_share(views_before, views_after)
                    views_before = _definitions(views_before)
                    views_after = _definitions(views_after)
                    touched = sum(views_after.get(k) != v for k, v in views_before.items())
                    row = Saved(
                        name,
                        commit[:10],
                        rel,
                        full,
                        cost,
                        full_new,
                        len(views_before),
                        touched,
                        floor,
                        cost_code,
                        full_new_code,
                    )
                    for key, view in views_before.items():
                        if views_after.get(key) != view or key not in before | after:
                            continue
                        row.checks += 1
                        if before.get(key) == after.get(key):
                            row.stable += 1
                        else:
                            row.unstable.append(key)
                    saved.append(row)
                    print(
                        f"  {name} {commit[:10]} {rel}: save {cost} / full {full_new} tokens "
                        f"({100 * row.ratio:.1f}%; of the parent's {full}: "
                        f"{100 * row.ratio_parent:.1f}%; changed units {100 * floor:.1f}%), touched "
                        f"{touched}/{len(views_before)} "
                        f"definitions, stable {row.stable}/{row.checks}",
                        flush=True,
                    )
        finally:
            await stop(client)
    return saved


async def opened(
    client: Any, scripted: ScriptedModel, uri: str, language_id: str, text: str
) -> int:
    """Open ``text`` as ``uri`` and wait for its review: the prompt tokens it cost."""
    from lsprotocol import types

    mark = len(scripted.requests)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id=language_id, version=1, text=text
            )
        )
    )
    await settled(client, uri)
    return prompt_tokens(scripted.requests[mark:])


async def full_review(
    client: Any, scripted: ScriptedModel, path: Path, language_id: str, text: str
) -> int:
    """The prompt tokens of a full review of ``text``: opened beside ``path`` under a name
    of its own (the review cache is per file, so it starts cold), then closed."""
    from lsprotocol import types

    uri = path.with_name(f"full-review-{path.name}").as_uri()
    tokens = await opened(client, scripted, uri, language_id, text)
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    return tokens


def report(rows: list[Saved]) -> dict[str, Any]:
    if not rows:
        return {"files": 0}
    ratios = [100 * r.ratio for r in rows]
    parents = [100 * r.ratio_parent for r in rows]
    shares = [100 * r.touched / max(r.definitions, 1) for r in rows]
    checks = sum(r.checks for r in rows)
    stable = sum(r.stable for r in rows)
    return {
        "files": len(rows),
        "commits": len({r.commit for r in rows}),
        "save_tokens_pct_of_full": {
            "p50": round(statistics.median(ratios), 2),
            "p90": round(percentile(ratios, 90), 2),
            "max": round(max(ratios), 2),
        },
        "save_tokens_pct_of_parent_full": {
            "p50": round(statistics.median(parents), 2),
            "p90": round(percentile(parents, 90), 2),
        },
        # every save's tokens over every full review's: what a session of these saves costs
        "save_tokens_pct_of_full_weighted": round(
            100 * sum(r.save_tokens for r in rows) / max(sum(r.full_new_tokens for r in rows), 1),
            2,
        ),
        # the code sections alone: what a save re-sends of the file, without the fixed part
        "save_code_pct_of_full_code": {
            "p50": round(statistics.median(100 * r.code_ratio for r in rows), 2),
            "p90": round(percentile([100 * r.code_ratio for r in rows], 90), 2),
        },
        "changed_units_pct": {
            "p50": round(statistics.median(100 * r.changed_units for r in rows), 2),
            "p90": round(percentile([100 * r.changed_units for r in rows], 90), 2),
        },
        "touched_definitions_pct": {
            "p50": round(statistics.median(shares), 2),
            "p90": round(percentile(shares, 90), 2),
        },
        "untouched_findings_stable_pct": round(100 * stable / max(checks, 1), 2),
        "untouched_checks": checks,
        "unstable": [f"{r.commit} {r.path}: {k}" for r in rows for k in r.unstable][:20],
        "targets": {"p50_pct": 10, "p90_pct": 30, "stable_pct": 100},
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repos", nargs="*", type=Path, help="bare git directories")
    parser.add_argument("--commits", type=int, default=50)
    parser.add_argument("--suffixes", default=".py", help="file suffixes replayed, e.g. .py,.ts")
    parser.add_argument(
        "--server", type=Path, help="another checkout's server/ directory, for a baseline"
    )
    parser.add_argument("--out", default="history", help="results/<OUT>.json")
    args = parser.parse_args()
    repos = args.repos or [
        Path(p) for p in os.environ.get("KAIZEN_HISTORY_REPOS", "").split(":") if p
    ]
    repos = [r for r in repos if (r / "HEAD").is_file() or (r / ".git" / "HEAD").is_file()]
    if not repos:
        print(
            "bench_history: no repository given (arguments or KAIZEN_HISTORY_REPOS, bare git "
            "directories); skipped"
        )
        return 0
    random.seed(26)
    suffixes = tuple(s.strip() for s in args.suffixes.split(",") if s.strip())
    results: dict[str, Any] = {}
    every: list[Saved] = []
    for repo in repos:
        git_dir = repo if (repo / "HEAD").is_file() else repo / ".git"
        rows = await replay(git_dir, args.commits, suffixes, args.server)
        every.extend(rows)
        head = git(git_dir, "rev-parse", "HEAD").decode().strip()
        name = rows[0].repo if rows else repo.name
        results[name] = {"head": head, **report(rows)}
        r = results[name]
        if rows:
            print(
                f"{name} (HEAD {head[:10]}): {r['files']} saved files in {r['commits']} commits; "
                f"save tokens p50 {r['save_tokens_pct_of_full']['p50']}% p90 "
                f"{r['save_tokens_pct_of_full']['p90']}% of a full review (targets 10 / 30; "
                f"weighted {r['save_tokens_pct_of_full_weighted']}%; of the parent's p50 "
                f"{r['save_tokens_pct_of_parent_full']['p50']}%); code sections alone p50 "
                f"{r['save_code_pct_of_full_code']['p50']}% p90 "
                f"{r['save_code_pct_of_full_code']['p90']}%; "
                f"changed units p50 {r['changed_units_pct']['p50']}% p90 "
                f"{r['changed_units_pct']['p90']}%; "
                f"definitions touched p50 {r['touched_definitions_pct']['p50']}%; untouched "
                f"findings stable {r['untouched_findings_stable_pct']}% of {r['untouched_checks']}",
                flush=True,
            )
    results["all"] = report(every)
    results["rows"] = [
        {
            "repo": r.repo,
            "commit": r.commit,
            "path": r.path,
            "full": r.full_tokens,
            "full_new": r.full_new_tokens,
            "save": r.save_tokens,
            "save_code": r.save_code,
            "full_new_code": r.full_new_code,
            "definitions": r.definitions,
            "touched": r.touched,
            "changed_units_pct": round(100 * r.changed_units, 2),
            "stable": r.stable,
            "checks": r.checks,
        }
        for r in every
    ]
    save(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
