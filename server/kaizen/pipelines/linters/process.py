"""Running a linter binary: found once, given the text on stdin or in a temporary file,
bounded in time, and never able to fail a run.

A linter that is missing, crashes or hangs costs its findings and one log line (once per
linter and reason for the life of the process, not once per keystroke); the review goes on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

TIMEOUT_S = 20.0


def find_binary(name: str, configured: str | None = None) -> str | None:
    """The linter's executable: the configured path (and nothing else when one is set),
    else the one a wheel installed beside this Python, else the one on PATH."""
    if configured:
        path = Path(configured).expanduser()
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    exe = name + (".exe" if sys.platform == "win32" else "")
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        candidate = folder / exe
        if candidate.is_file():
            return str(candidate)
    return shutil.which(name)


@dataclass
class Ran:
    code: int
    out: bytes
    err: bytes


@dataclass
class Complaints:
    """What has been said about each linter already: one log line per linter and reason."""

    said: set[tuple[str, str]] = field(default_factory=set)

    def once(self, linter: str, problem: str) -> None:
        reason = problem.splitlines()[0][:300] if problem else "unknown failure"
        key = (linter, reason.split(":", 1)[0])
        if key not in self.said:
            self.said.add(key)
            log.warning("%s: %s (its findings are left out; the review goes on)", linter, reason)


async def run(
    linter: str,
    command: list[str],
    complaints: Complaints,
    *,
    stdin: bytes | None = None,
    cwd: str | None = None,
    ok_codes: tuple[int, ...] = (0, 1),
) -> Ran | None:
    """Run ``command``; None (and one complaint) if it cannot start, times out or exits
    with a code outside ``ok_codes``."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *command,
            cwd=cwd,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        complaints.once(linter, f"cannot run {command[0]}: {exc}")
        return None
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), TIMEOUT_S)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        complaints.once(linter, f"timed out after {TIMEOUT_S:.0f} s")
        return None
    except asyncio.CancelledError:
        if proc.returncode is None:
            proc.kill()
        raise
    code = proc.returncode if proc.returncode is not None else -1
    if code not in ok_codes:
        detail = err.decode(errors="replace").strip() or out.decode(errors="replace").strip()
        complaints.once(linter, f"exited with {code}: {detail}")
        return None
    return Ran(code, out, err)
