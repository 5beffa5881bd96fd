/**
 * package.json and the code agree: every contributed command is registered on activation
 * (and vice versa), and every setting the code reads or writes is contributed.
 */
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { test } from 'node:test';
import { CLIENT_COMMANDS, settingUpdates } from '../src/core/commands';
import { LANGUAGES } from '../src/core/launch';
import { DEFAULTS, readSettings, RESTART_KEYS } from '../src/core/settings';
import { PACKAGE_ROOT, SRC } from './paths';

interface Manifest {
  main: string;
  activationEvents: string[];
  license: string;
  repository: unknown;
  contributes: {
    commands: { command: string; title: string }[];
    configuration: { properties: Record<string, { default: unknown }> };
    menus: Record<string, { command: string }[]>;
  };
}

const manifest = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as Manifest;
const contributedCommands = manifest.contributes.commands.map((c) => c.command).sort();
const properties = manifest.contributes.configuration.properties;
const read = (file: string): string => fs.readFileSync(path.join(SRC, file), 'utf8');
const sources = (): string[] =>
  fs.readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map(read);

test('every contributed command is registered in activate(), and no other', () => {
  const extension = read('extension.ts');
  const handlers = extension.slice(extension.indexOf('const handlers'), extension.indexOf('};', extension.indexOf('const handlers')));
  const registered = [...handlers.matchAll(/'(kaizen\.[\w.]+)':/g)].map((m) => m[1]).sort();
  assert.ok(/registerCommand\(id,/.test(extension), 'activate() registers each handler');
  assert.deepEqual(registered, contributedCommands);
  assert.deepEqual([...CLIENT_COMMANDS].sort(), contributedCommands);
});

test('activation: the languages and every command', () => {
  for (const language of LANGUAGES) assert.ok(manifest.activationEvents.includes(`onLanguage:${language}`), language);
  for (const command of contributedCommands) assert.ok(manifest.activationEvents.includes(`onCommand:${command}`), command);
  assert.equal(manifest.main, './out/bundle/extension.js'); // one file: esbuild's bundle (npm run bundle)
});

test('the client covers every language the server reviews, JSX and TSX included', () => {
  for (const id of ['javascriptreact', 'typescriptreact', 'csharp', 'cpp', 'kotlin', 'shellscript']) {
    assert.ok(LANGUAGES.includes(id), id);
  }
  const setting = properties['kaizen.languages'] as unknown as { default: string[]; items: { enum: string[] } };
  assert.deepEqual(setting.default, [...LANGUAGES]);
  assert.deepEqual(setting.items.enum, [...LANGUAGES]);
});

test('the walkthrough runs only contributed (or built-in) commands and its media exist', () => {
  const walkthroughs = (manifest.contributes as unknown as {
    walkthroughs: { steps: { id: string; description: string; media: { markdown?: string } }[] }[];
  }).walkthroughs;
  assert.equal(walkthroughs.length, 1);
  const steps = walkthroughs[0].steps;
  assert.deepEqual(steps.map((s) => s.id), ['server', 'model', 'key', 'review', 'fix', 'dismiss', 'learned']);
  for (const step of steps) {
    for (const m of step.description.matchAll(/\(command:([\w.]+)\)/g)) {
      assert.ok(!m[1].startsWith('kaizen.') || contributedCommands.includes(m[1]), `${step.id}: ${m[1]}`);
    }
    assert.ok(step.media.markdown && fs.existsSync(path.join(PACKAGE_ROOT, step.media.markdown)), step.id);
  }
});

test('menus name only contributed commands', () => {
  for (const entries of Object.values(manifest.contributes.menus)) {
    for (const { command } of entries) assert.ok(contributedCommands.includes(command), command);
  }
});

test('every setting read is contributed, and every contributed setting is read', () => {
  const keys = new Set<string>();
  readSettings((key) => {
    keys.add(key);
    return undefined;
  });
  const contributed = Object.keys(properties).map((k) => k.replace(/^kaizen\./, '')).sort();
  assert.deepEqual([...keys].sort(), contributed);
  for (const [key] of settingUpdates('both', { provider: 'p', model: 'm', apiBase: 'http://x' })) {
    assert.ok(keys.has(key), `chooseModel writes ${key}`);
  }
  for (const key of RESTART_KEYS) assert.ok(keys.has(key), key);
});

test('settings in code are contributed: affectsConfiguration, get and openSettings literals', () => {
  for (const source of sources()) {
    for (const m of source.matchAll(/(?:affectsConfiguration\(|'workbench\.action\.openSettings',\s*)'kaizen\.([\w.]+)'/g)) {
      assert.ok(`kaizen.${m[1]}` in properties, m[1]);
    }
    for (const m of source.matchAll(/\.get(?:<[^>]*>)?\('([\w.]+)'\)/g)) {
      assert.ok(`kaizen.${m[1]}` in properties, `reads ${m[1]}`);
    }
    for (const m of source.matchAll(/getConfiguration\('([\w.]*)'\)/g)) assert.equal(m[1], 'kaizen');
  }
});

test('manifest defaults agree with the code defaults', () => {
  for (const [key, value] of Object.entries(DEFAULTS)) {
    assert.deepEqual(properties[`kaizen.${key}`]?.default, value, key);
  }
});

test('packaging metadata is present so vsce does not prompt', () => {
  assert.equal(manifest.license, 'MIT');
  assert.ok(manifest.repository);
  for (const file of ['LICENSE', 'README.md', 'CHANGELOG.md', '.vscodeignore', 'package-lock.json', 'media/icon.png']) {
    assert.ok(fs.existsSync(path.join(PACKAGE_ROOT, file)), file);
  }
});
