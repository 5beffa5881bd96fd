/**
 * How the client starts the server: which Python to use and the command line
 * `<python> -m kaizen serve`. Pure, so the end-to-end test launches the server through
 * exactly this code path.
 */
import { ClientSettings, InitializationOptions } from './settings';

export type InterpreterSource = 'setting' | 'python-extension' | 'default';

export interface Interpreter {
  argv: string[];
  source: InterpreterSource;
}

export const DEFAULT_PYTHON = 'python3';

/** Languages whose documents the client sends to the server (and activates on). */
export const LANGUAGES = ['python', 'javascript', 'typescript', 'go', 'rust', 'java'];

/**
 * Discovery order: the `kaizen.interpreter` setting, then the Python extension's active
 * environment (asked only when the setting is empty), then `python3` on PATH.
 */
export async function resolveInterpreter(
  setting: string[],
  askPythonExtension: () => Promise<string | undefined>,
): Promise<Interpreter> {
  if (setting.length > 0) {
    return { argv: setting, source: 'setting' };
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
