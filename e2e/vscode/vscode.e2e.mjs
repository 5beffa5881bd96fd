// Kaizen's VS Code client in a real VS Code (code-server), driven like a user in headless
// Chromium through playwright-core. Started by tests/test_vscode_e2e.py, which installs
// everything, starts code-server, the scripted model server and the fake GitHub, and passes
// a JSON config file as the only argument (url, modelControl, baseModel, newModel, newApiBase,
// workspace, artifacts, profile, chromium, issueMessage, issueLine, issueColumn, fixedLine,
// fixedText, refactorMessage, apiKey, missingInterpreter, oldPython, issueAnswer, tsFile,
// tsxFile, privateEnv).
//
// The profile is a new user's: no kaizen.interpreter, a python3 without Kaizen, no API key in
// the environment. The scenario starts where such a user starts (one notification, a bad
// interpreter or two, the key set through the command, Install), then reviews, fixes,
// chooses a model, opens a pull request, reviews TypeScript and TSX, and finally reloads the
// window to time the first finding with the server already installed.
// Each step logs one JSON line to stdout and saves <artifacts>/<NN>-<step>.png (or
// <NN>-<step>-FAILED.png with what the workbench showed); a failed step does not stop the
// next ones, and the script exits 1 if any failed.
import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SHORT = 15_000;
const RUN = 90_000; // a pipeline run through the real server and the scripted model
const INSTALL = 400_000; // a venv and pip install of the bundled wheel from local wheels

mkdirSync(config.artifacts, { recursive: true });
const consoleLog = [];
let page;
let shot = 0;

function log(event) {
  process.stdout.write(`${JSON.stringify({ t: new Date().toISOString(), ...event })}\n`);
}

async function screenshot(name, suffix = '') {
  const file = join(config.artifacts, `${String(shot).padStart(2, '0')}-${name}${suffix}.png`);
  await page.screenshot({ path: file });
  return file;
}

const failed = [];

/** A screenshot in the middle of a step (a menu a reviewer wants to see). */
async function snap(label) {
  await page.waitForTimeout(300);
  await screenshot(`${currentStep}-${label}`, '');
}
let currentStep = '';
let errorsBefore = new Set();

/** The error notifications showing now (the client reports failed commands this way). */
async function errorToasts() {
  return page.locator('.notifications-toasts .notification-toast')
    .filter({ has: page.locator('.codicon-error') })
    .allInnerTexts()
    .catch(() => []);
}

/** Every notification showing now, as text. */
async function toasts() {
  return page.locator('.notifications-toasts .notification-toast').allInnerTexts().catch(() => []);
}

/** Closes every notification (their promises resolve as dismissed). */
async function clearNotifications() {
  await command('Notifications: Clear All Notifications');
  await until('no notifications', async () => (await toasts()).length === 0, SHORT);
}

/** Waits for a Kaizen notification matching `pattern`, then checks it is the only one
 * showing and that no generic error (the language client's) came with it. */
async function oneNotification(pattern, timeout = RUN) {
  const text = await notification(pattern, timeout);
  await page.waitForTimeout(1500); // anything stacked on top would show by now
  const all = (await toasts()).map((t) => t.replace(/\s+/g, ' ').trim());
  if (all.length !== 1) throw new Error(`expected one notification, saw ${all.length}: ${JSON.stringify(all)}`);
  return all[0];
}

/** Fails at once when an error notification appeared during this step. */
async function noNewErrors() {
  const fresh = (await errorToasts()).filter((t) => !errorsBefore.has(t));
  if (fresh.length) throw new Error(`error notification: ${fresh.join(' / ').replace(/\s+/g, ' ')}`);
}

/** One step of the scenario; a failed step is recorded and the next ones still run. */
async function step(name, body) {
  const started = Date.now();
  shot += 1;
  currentStep = name;
  errorsBefore = new Set(await errorToasts());
  log({ step: name, status: 'start' });
  try {
    await body();
    // settle: no hover tooltips, toasts done sliding in
    await page.mouse.move(900, 420);
    await page.waitForTimeout(700);
    const file = await screenshot(name);
    log({ step: name, status: 'passed', ms: Date.now() - started, screenshot: file });
  } catch (err) {
    failed.push(name);
    log({ step: name, status: 'failed', ms: Date.now() - started, error: String(err?.stack ?? err) });
    await screenshot(name, '-FAILED').catch(() => undefined);
    await describeWorkbench();
    for (let i = 0; i < 3; i += 1) await page.keyboard.press('Escape').catch(() => undefined);
  }
}

/** What a person would see: notifications, status bar, problems, quick input, editor. */
async function describeWorkbench() {
  const texts = async (selector) =>
    page.locator(selector).allInnerTexts().catch((e) => [`<${String(e)}>`]);
  const seen = {
    notifications: await texts('.notifications-toasts .notification-list-item-message'),
    statusBar: await texts('.statusbar-item .statusbar-item-label'),
    problems: await texts('.markers-panel .monaco-list-row'),
    codeActions: await texts('.action-widget .monaco-list-row'),
    quickInput: await texts('.quick-input-widget .quick-input-title, .quick-input-widget .monaco-list-row'),
    editor: await texts('.editor-group-container.active .monaco-editor .view-lines'),
  };
  log({ workbench: seen });
  writeFileSync(join(config.artifacts, 'browser-console.log'), consoleLog.join('\n'));
}

// --- the scripted model server's control endpoints ---------------------------------------

async function scripted(path, body) {
  const response = await fetch(`${config.modelControl}/_script/${path}`, body === undefined
    ? {}
    : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`/_script/${path}: HTTP ${response.status}`);
  return response.json();
}

const modelRequests = async () => (await scripted('requests')).filter((r) => r.task !== 'embedding');

async function until(what, check, timeout = RUN) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

// --- the workbench, as a user drives it ---------------------------------------------------

const quickInput = () => page.locator('.quick-input-widget');
const quickInputBox = () => page.locator('.quick-input-widget .quick-input-box input');
const quickRow = (text) => quickInput().locator('.monaco-list-row').filter({ hasText: text }).first();

/** F1 until the palette's input takes text (the workbench may still be loading), then `text`. */
async function openPalette(text) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    try {
      await quickInputBox().waitFor({ state: 'visible', timeout: 2000 });
      await quickInputBox().fill(text, { timeout: 2000 });
      if ((await quickInputBox().inputValue({ timeout: 1000 })) === text) return;
    } catch {
      // not open yet, or it was closing: press F1 again
    }
    if (Date.now() > deadline) throw new Error('the command palette never opened');
  }
}

/** Runs a command from the palette by its title, clicking its entry. */
async function command(title) {
  await openPalette(`>${title}`);
  const row = quickInput().locator('.monaco-list-row').filter({ hasText: title }).first();
  await row.waitFor({ state: 'visible', timeout: SHORT });
  await row.click();
}

async function pick(label) {
  const row = quickRow(label);
  await row.waitFor({ state: 'visible', timeout: SHORT });
  await row.click();
}

async function waitQuickTitle(title) {
  await quickInput().locator('.quick-input-title').filter({ hasText: title })
    .waitFor({ state: 'visible', timeout: SHORT });
}

async function openFile(name) {
  const tree = page.locator('.explorer-folders-view .monaco-list-row').filter({ hasText: name }).first();
  await tree.waitFor({ state: 'visible', timeout: 60_000 });
  await tree.click();
  await page.locator('.tabs-container .tab.active').filter({ hasText: name })
    .waitFor({ state: 'visible', timeout: SHORT });
  await page.locator('.editor-group-container.active .monaco-editor .view-lines')
    .waitFor({ state: 'visible', timeout: SHORT });
}

/** Puts the cursor at 1-based line:column through "Go to Line" (`:line:col`). */
async function goTo(line, column) {
  await openPalette(`:${line}:${column}`);
  await page.keyboard.press('Enter');
  await quickInput().waitFor({ state: 'hidden', timeout: SHORT });
}

async function editorText() {
  const text = await page.locator('.editor-group-container.active .monaco-editor .view-lines').innerText();
  return text.replace(/\u00a0/g, ' ');
}

async function notification(pattern, timeout = RUN) {
  const toast = page.locator('.notifications-toasts .notification-toast').filter({ hasText: pattern }).first();
  await until(`a notification matching ${pattern}`, async () => {
    await noNewErrors();
    return toast.isVisible();
  }, timeout);
  return toast.innerText();
}

async function problems(pattern, timeout = RUN) {
  await command('Problems: Focus on Problems View');
  const row = page.locator('.markers-panel .monaco-list-row').filter({ hasText: pattern }).first();
  await until(`a problem matching ${pattern}`, async () => {
    await noNewErrors();
    return row.isVisible();
  }, timeout);
  return row.innerText();
}

/** A Problems row for `file` and, under it, one matching `pattern`. */
async function problemFor(file, pattern, timeout = RUN) {
  await command('Problems: Focus on Problems View');
  const rows = page.locator('.markers-panel .monaco-list-row');
  await until(`a problem in ${file} matching ${pattern}`, async () => {
    await noNewErrors();
    return (await rows.filter({ hasText: file }).first().isVisible()) && rows.filter({ hasText: pattern }).first().isVisible();
  }, timeout);
}

/** Kaizen: Choose Interpreter, then a typed path. */
async function chooseInterpreterPath(path) {
  await command('Kaizen: Choose Interpreter');
  await pick('Enter the path');
  await waitQuickTitle('Python interpreter');
  await quickInputBox().fill(path);
  await page.keyboard.press('Enter');
  await quickInput().waitFor({ state: 'hidden', timeout: SHORT });
}

const badge = () => page.locator('.statusbar-item').filter({ hasText: 'Kaizen' }).first();

/** Waits until the provider badge reads exactly `Kaizen: <label>` (after its icon). */
async function badgeReads(label, timeout = 30_000) {
  let text = '';
  try {
    await until(`the status bar badge to read "Kaizen: ${label}"`, async () => {
      text = (await badge().innerText().catch(() => '')).trim();
      return text === `Kaizen: ${label}`;
    }, timeout);
  } catch (err) {
    throw new Error(`${err.message}; it reads "${text}"`);
  }
  return text;
}

// --- the scenario -------------------------------------------------------------------------

async function main() {
  const context = await chromium.launchPersistentContext(config.profile, {
    executablePath: config.chromium,
    headless: true,
    chromiumSandbox: false,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1440, height: 900 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (msg) => consoleLog.push(`[${msg.type()}] ${msg.text()}`));
  page.on('pageerror', (err) => consoleLog.push(`[pageerror] ${String(err)}`));
  page.setDefaultTimeout(SHORT);
  const results = {};
  try {
    await step('workbench', async () => {
      await page.goto(config.url, { waitUntil: 'domcontentloaded', timeout: 120_000 });
      await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 120_000 });
      await openPalette('>');
      await page.keyboard.press('Escape');
    });
    if (failed.length) throw new Error('the workbench did not load');

    await step('first-run-one-notification', async () => {
      await openFile('stats.py');
      results.firstRun = await oneNotification(/Kaizen needs its server: it is not installed in python3/);
      if (!/Install \(private environment\)/.test(results.firstRun) || !/Choose Interpreter/.test(results.firstRun)) {
        throw new Error(`the notification lacks its actions: ${results.firstRun}`);
      }
      results.badgeNotInstalled = await badgeReads('server not installed');
    });

    await step('interpreter-that-does-not-exist', async () => {
      await clearNotifications();
      await chooseInterpreterPath(config.missingInterpreter);
      results.missingInterpreter = await oneNotification(/could not run \(not found\)/);
    });

    if (config.oldPython) {
      await step('python-older-than-3-10', async () => {
        await clearNotifications();
        await chooseInterpreterPath(config.oldPython);
        results.oldPython = await oneNotification(/needs Python 3\.10\+ for its server/);
      });
    }

    await step('back-to-discovery', async () => {
      await clearNotifications();
      await command('Kaizen: Choose Interpreter');
      await pick('Discover it');
      results.discovered = await oneNotification(/Kaizen needs its server: it is not installed in python3/);
    });

    await step('set-api-key', async () => {
      await command('Kaizen: Set API Key');
      await waitQuickTitle('Set API Key');
      await pick('OpenAI');
      await waitQuickTitle('OpenAI');
      await quickInputBox().fill(config.apiKey);
      await page.keyboard.press('Enter');
      await quickInput().waitFor({ state: 'hidden', timeout: SHORT });
      // the server restarts to take the key, and finds the same python3 without Kaizen
      results.badgeAfterKey = await badgeReads('server not installed');
    });

    await step('install-private-environment', async () => {
      // The palette's Escape hid the notification; the status bar says what is wrong, and a
      // click on it installs.
      await badge().click();
      await notification(/installing its server/, SHORT);
      await snap('progress');
      results.badgeInstalling = await badgeReads('installing server');
      const started = Date.now();
      results.badgeInstalled = await badgeReads(`openai/${config.baseModel}`, INSTALL);
      results.installMs = Date.now() - started;
    });

    await step('diagnostic-in-problems', async () => {
      await openFile('stats.py');
      results.problem = await problems(config.issueMessage);
    });

    await step('badge-shows-model', async () => {
      results.badgeBefore = await badgeReads(`openai/${config.baseModel}`);
    });

    const before = (await modelRequests()).length;
    await step('choose-provider-and-model', async () => {
      await command('Kaizen: Choose Provider and Model');
      await waitQuickTitle('Choose Provider');
      await pick('OpenAI-compatible');
      await waitQuickTitle('Base URL');
      await quickInputBox().fill(config.newApiBase);
      await page.keyboard.press('Enter');
      await waitQuickTitle('Model (2/3)');
      await quickInputBox().fill(config.newModel);
      await quickRow(config.newModel).waitFor({ state: 'visible', timeout: SHORT });
      await snap('model-picker');
      await pick(config.newModel);
      await waitQuickTitle('(3/3)');
      await pick('Auto-fix');
      await quickInput().waitFor({ state: 'hidden', timeout: SHORT });
      results.badgeAfter = await badgeReads(`openai/${config.newModel} | openai/${config.baseModel}`);
    });

    await step('next-run-uses-new-model', async () => {
      await command('Kaizen: Run Auto-fix on File');
      results.runToast = await notification(/Kaizen Auto-fix: 1 finding/);
      const used = await until(`a model request for ${config.newModel}`, async () => {
        const fresh = (await modelRequests()).slice(before);
        return fresh.some((r) => r.body.model === config.newModel) && fresh.map((r) => r.body.model);
      });
      if (used.includes(config.baseModel)) {
        throw new Error(`the auto-fix run still called ${config.baseModel}: ${JSON.stringify(used)}`);
      }
      results.modelsAfterChoice = used;
      await problems(config.issueMessage);
    });

    await step('quick-fix-applies-edit', async () => {
      // Later runs find nothing, so the file ends clean once the fix is in.
      await scripted('default', { task: 'issue_detector', answer: { issues: [] } });
      await goTo(config.issueLine, config.issueColumn);
      const action = page.locator('.action-widget .monaco-list-row').filter({ hasText: 'Kaizen: apply fix' }).first();
      // Ctrl+. as a user would; a toast that takes the focus closes the menu, so try again
      await until('the quick fix menu', async () => {
        await page.keyboard.press('Control+.');
        return action.waitFor({ state: 'visible', timeout: 3000 }).then(() => true, () => false);
      }, SHORT);
      results.codeActions = await page.locator('.action-widget .monaco-list-row').allInnerTexts();
      await snap('menu');
      await action.click();
      await until('the fixed line in the editor', async () => (await editorText()).includes(config.fixedLine), SHORT);
      await page.keyboard.press('Control+S');
      await until('the fixed file on disk', async () =>
        readFileSync(join(config.workspace, 'stats.py'), 'utf8') === config.fixedText, SHORT);
      results.editor = await editorText();
      await command('Problems: Focus on Problems View');
      await page.locator('.markers-panel').filter({ hasText: 'No problems have been detected' })
        .waitFor({ state: 'visible', timeout: RUN });
    });

    await step('metrics-view', async () => {
      await command('Kaizen: Show Metrics');
      await page.locator('.tabs-container .tab.active').filter({ hasText: 'Kaizen Metrics' })
        .waitFor({ state: 'visible', timeout: SHORT });
      const body = page.frameLocator('iframe.webview').frameLocator('iframe#active-frame').locator('body');
      // the table, or what the user sees instead: an error, or a page without model calls
      await until('the metrics table', async () => {
        await noNewErrors();
        return (await body.locator('table').isVisible().catch(() => false))
          || (await body.innerText().catch(() => '')).includes('No model calls recorded');
      }, 30_000);
      results.metrics = await body.innerText().catch(() => '');
      for (const model of [config.baseModel, config.newModel]) {
        if (!results.metrics.includes(model)) {
          throw new Error(`the metrics view does not list ${model}; it shows: ${results.metrics.slice(0, 500)}`);
        }
      }
    });

    await step('refactor-diagnostic', async () => {
      await openFile('prices.py');
      await command('Kaizen: Run Refactor on File');
      results.refactorToast = await notification(/Kaizen Refactor: 1 finding/);
      results.refactorProblem = await problems(config.refactorMessage);
    });

    await step('create-pull-request', async () => {
      await page.locator('.tabs-container .tab').filter({ hasText: 'prices.py' }).first().click();
      await goTo(2, 5);
      await command('Kaizen: Create Pull Request');
      results.prToast = await notification(/pull request #\d+ created/);
    });

    for (const file of [config.tsFile, config.tsxFile]) {
      await step(`diagnostic-in-${file.replace(/\W/g, '-')}`, async () => {
        await scripted('default', { task: 'issue_detector', answer: config.issueAnswer });
        await openFile(file);
        await problemFor(file, config.issueMessage);
      });
    }

    await step('reload-time-to-first-finding', async () => {
      // the server is installed now: a reload is a start as every later one will be
      const started = Date.now();
      const reloaded = page.waitForEvent('domcontentloaded', { timeout: 60_000 });
      await command('Developer: Reload Window');
      await reloaded;
      await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 120_000 });
      await problemFor(config.tsxFile, config.issueMessage);
      results.reloadToFirstFindingMs = Date.now() - started;
    });

    await step('broken-private-environment', async () => {
      // its Python stops working: a restart says so once, offers Install, and loops not
      const python = join(config.privateEnv, 'bin', 'python');
      renameSync(python, `${python}.moved`);
      writeFileSync(python, '#!/bin/sh\necho "broken on purpose" >&2\nexit 3\n', { mode: 0o755 });
      try {
        await clearNotifications().catch(() => undefined);
        await command('Kaizen: Restart Server');
        results.brokenPrivate = await oneNotification(/could not run/);
        if (!/Install \(private environment\)/.test(results.brokenPrivate)) {
          throw new Error(`no way out offered: ${results.brokenPrivate}`);
        }
        await badgeReads('server not installed');
      } finally {
        unlinkSync(python);
        renameSync(`${python}.moved`, python);
      }
      await clearNotifications();
      await command('Kaizen: Restart Server');
      await badgeReads(`openai/${config.newModel} | openai/${config.baseModel}`, RUN);
    });
  } finally {
    writeFileSync(join(config.artifacts, 'browser-console.log'), consoleLog.join('\n'));
    writeFileSync(join(config.artifacts, 'results.json'), JSON.stringify(results, null, 2));
    await context.close().catch(() => undefined);
  }
  log({ done: failed.length === 0, failed, results });
  if (failed.length) throw new Error(`failed steps: ${failed.join(', ')}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    log({ done: false, error: String(err?.message ?? err) });
    process.exit(1);
  },
);
