/**
 * How the client starts the server: which Python to use and the command line
 * `<python> -m kaizen serve`. Pure, so the end-to-end test launches the server through
 * exactly this code path.
 */
import { ClientSettings, InitializationOptions } from './settings';

export type InterpreterSource = 'setting' | 'private' | 'python-extension' | 'default';

export interface Interpreter {
  argv: string[];
  source: InterpreterSource;
}

export const DEFAULT_PYTHON = 'python3';

/**
 * Every VS Code language id the server reviews (and the client activates on); the
 * `kaizen.languages` setting narrows it. JSX and TSX are their own ids in VS Code.
 */
export const LANGUAGES: readonly string[] = [
  'python',
  'javascript',
  'javascriptreact',
  'typescript',
  'typescriptreact',
  'go',
  'rust',
  'java',
  'c',
  'cpp',
  'csharp',
  'ruby',
  'php',
  'kotlin',
  'shellscript',
];

/** The language client's document selector: files and untitled buffers of those languages. */
export function documentSelector(languages: readonly string[]): { scheme: string; language: string }[] {
  return languages.flatMap((language) => [
    { scheme: 'file', language },
    { scheme: 'untitled', language },
  ]);
}

/**
 * Discovery order: the `kaizen.interpreter` setting, then the extension's private
 * environment (once the user installed the server there), then the Python extension's
 * active environment (asked only when both are absent: activating it can take seconds),
 * then `python3` on PATH.
 */
export async function resolveInterpreter(
  setting: string[],
  privatePython: string | undefined,
  askPythonExtension: () => Promise<string | undefined>,
): Promise<Interpreter> {
  if (setting.length > 0) {
    return { argv: setting, source: 'setting' };
  }
  if (privatePython) {
    return { argv: [privatePython], source: 'private' };
  }
  const fromExtension = await askPythonExtension().catch(() => undefined);
  if (fromExtension) {
    return { argv: [fromExtension], source: 'python-extension' };
  }
  return { argv: [DEFAULT_PYTHON], source: 'default' };
}

export interface LaunchSpec {
  command: string;
  args: string[];
  initializationOptions: InitializationOptions;
}

/** The server's command line and the options sent with `initialize`. */
export function launchSpec(interpreter: string[], settings: ClientSettings): LaunchSpec {
  const [command = DEFAULT_PYTHON, ...prefix] = interpreter;
  return {
    command,
    args: [...prefix, '-m', 'kaizen', 'serve', ...settings.serverArgs],
    initializationOptions: settings.server,
  };
}
