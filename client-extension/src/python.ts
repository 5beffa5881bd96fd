/**
 * The Python extension's view of the active interpreter, if that extension is installed
 * (`ms-python.python` exports `environments`). Only the few members used are typed.
 */
import * as vscode from 'vscode';

interface EnvironmentPath {
  id: string;
  path: string;
}

interface PythonEnvironments {
  getActiveEnvironmentPath(resource?: vscode.Uri): EnvironmentPath;
  resolveEnvironment?(env: EnvironmentPath): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
  onDidChangeActiveEnvironmentPath?: vscode.Event<unknown>;
}

async function environments(): Promise<PythonEnvironments | undefined> {
  const ext = vscode.extensions.getExtension<{ environments?: PythonEnvironments }>('ms-python.python');
  if (!ext) return undefined;
  const api = ext.isActive ? ext.exports : await ext.activate();
  return api?.environments;
}

/** The executable of the Python extension's active environment for `resource`. */
export async function activePython(resource?: vscode.Uri): Promise<string | undefined> {
  const envs = await environments();
  if (!envs) return undefined;
  const active = envs.getActiveEnvironmentPath(resource);
  const resolved = await envs.resolveEnvironment?.(active);
  return resolved?.executable.uri?.fsPath ?? active.path;
}

export async function onActivePythonChange(listener: () => void): Promise<vscode.Disposable | undefined> {
  const envs = await environments().catch(() => undefined);
  return envs?.onDidChangeActiveEnvironmentPath?.(listener);
}
