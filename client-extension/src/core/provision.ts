/**
 * Whether a Python can run Kaizen's server, and how the extension's private environment
 * is laid out. Pure (no `vscode`, no processes), so every decision is unit-tested; the
 * processes are started by src/provision.ts.
 */

/** The oldest Python the server supports (pyproject.toml `requires-python`). */
export const MIN_PYTHON: readonly [number, number] = [3, 10];

/**
 * Run as `<python> -c PROBE`: one JSON line with the Python version and the installed
 * kaizen-lsp version (null when missing). Only importlib.metadata is loaded, so it answers
 * in tens of milliseconds; it never imports Kaizen itself.
 */
export const PROBE = [
  'import json, sys',
  'try:',
  '    from importlib.metadata import version',
  "    kaizen = version('kaizen-lsp')",
  'except Exception:',
  '    kaizen = None',
  "print(json.dumps({'python': list(sys.version_info[:3]), 'kaizen': kaizen, 'executable': sys.executable}))",
].join('\n');

export interface Probe {
  python: [number, number, number];
  kaizen: string | null;
  executable: string;
}

/** What a probe (or its failure) means for starting the server. */
export type Verdict =
  | { kind: 'ready'; version: string }
  | { kind: 'missing' }
  | { kind: 'outdated'; found: string; needed: string }
  | { kind: 'python-too-old'; python: string }
  | { kind: 'no-interpreter'; detail: string };

/** The probe's stdout as a Probe, or null when it is not one (a broken interpreter). */
export function parseProbe(stdout: string): Probe | null {
  const line = stdout.trim().split(/\r?\n/).pop() ?? '';
  try {
    const value = JSON.parse(line) as Partial<Probe>;
    const python = value.python;
    if (!Array.isArray(python) || python.length !== 3 || !python.every((n) => Number.isInteger(n))) return null;
    if (value.kaizen !== null && typeof value.kaizen !== 'string') return null;
    return { python: python as [number, number, number], kaizen: value.kaizen, executable: String(value.executable ?? '') };
  } catch {
    return null;
  }
}

/** Numeric release segments of a PEP 440 version ("0.1.0rc1" -> [0, 1, 0]). */
export function versionParts(version: string): number[] {
  const release = /^\s*v?(\d+(?:\.\d+)*)/.exec(version);
  return release ? release[1].split('.').map(Number) : [];
}

export function compareVersions(a: string, b: string): number {
  const x = versionParts(a);
  const y = versionParts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i += 1) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

export function judge(probe: Probe, needed: string): Verdict {
  const [major, minor, micro] = probe.python;
  if (major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1])) {
    return { kind: 'python-too-old', python: `${major}.${minor}.${micro}` };
  }
  if (probe.kaizen === null) return { kind: 'missing' };
  if (compareVersions(probe.kaizen, needed) < 0) return { kind: 'outdated', found: probe.kaizen, needed };
  return { kind: 'ready', version: probe.kaizen };
}

/** The one sentence the notification says for a verdict that is not `ready`. */
export function explain(verdict: Verdict, python: string): string {
  switch (verdict.kind) {
    case 'ready':
      return `Kaizen ${verdict.version} is installed in ${python}.`;
    case 'missing':
      return `Kaizen needs its server: it is not installed in ${python}.`;
    case 'outdated':
      return `Kaizen needs its server ${verdict.needed} or newer: ${python} has ${verdict.found}.`;
    case 'python-too-old':
      return `Kaizen needs Python ${MIN_PYTHON.join('.')}+ for its server: ${python} is Python ${verdict.python}.`;
    case 'no-interpreter':
      return `Kaizen needs its server: the interpreter "${python}" could not run (${verdict.detail}).`;
  }
}

/** The private environment in the extension's global storage. */
export function privateEnv(storageDir: string, platform: string): { dir: string; python: string } {
  const sep = platform === 'win32' ? '\\' : '/';
  const dir = `${storageDir}${sep}server-env`;
  const python = platform === 'win32' ? `${dir}\\Scripts\\python.exe` : `${dir}/bin/python`;
  return { dir, python };
}

/** The newest `kaizen_lsp-<version>-*.whl` among file names, with its version. */
export function newestWheel(files: readonly string[]): { file: string; version: string } | null {
  let best: { file: string; version: string } | null = null;
  for (const file of files) {
    const m = /^kaizen_lsp-([^-]+)-[^-]+-[^-]+-[^-]+\.whl$/.exec(file);
    if (m && (!best || compareVersions(m[1], best.version) > 0)) best = { file, version: m[1] };
  }
  return best;
}

/** pip's arguments to install (or upgrade to) the bundled wheel; its dependencies come from
 * the user's configured index (pip.conf, PIP_INDEX_URL, PIP_FIND_LINKS...). */
export function pipInstallArgs(wheel: string): string[] {
  return ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--upgrade', wheel];
}

/** The last lines of pip's output that say what went wrong, for the one failure message. */
export function pipFailureCause(output: string): string {
  const lines = output.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const error = lines.filter((l) => /^(ERROR|error):/.test(l)).pop();
  return (error ?? lines.pop() ?? 'pip exited with an error').replace(/^(ERROR|error):\s*/, '').slice(0, 300);
}
