/**
 * End to end in VS Code itself: the packaged .vsix installed into code-server (VS Code for the browser), driven
 * by playwright-core in headless Chromium, starting the real `pyengineer serve` on a real git repository.
 *
 * Needs (scripts/test-editors sets them): CODE_SERVER (its bin/code-server), CODE_SERVER_NODE_BIN (a folder with
 * the Node it needs, put first on PATH), and optionally CHROMIUM, PYENGINEER_VSIX, PYENGINEER_SERVER,
 * PYENGINEER_ARTIFACTS (where screenshots go, default <repo>/test-artifacts/vscode).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import type { Page } from 'playwright-core';

import { CodeServerSession, QUIET_SETTINGS } from '../support/codeServer';
import { EDITED_MODEL, Scenario, createScenario, currentBranch, projectRoot, serverExecutable, waitFor } from '../support/scenario';

interface HookDiagnostic {
  code: string | null;
  message: string;
  severity: string;
  range: number[];
}
interface HookState {
  clientState: string | null;
  statusBar: string | null;
  status: { branch?: string | null } | null;
  errors: string[];
  messages: string[];
  diagnostics: { uri: string; items: HookDiagnostic[] }[];
  codeActions: Record<string, string[]>;
}

let scenario: Scenario;
let session: CodeServerSession | undefined;
let page: Page;
let hooksFile: string;
let userDataDir: string;
let settingsFile: string;
let machineSettingsFile: string;
let baseSettings: Record<string, unknown>;
const artifacts = process.env.PYENGINEER_ARTIFACTS || path.join(projectRoot(), 'test-artifacts', 'vscode');

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run this test through scripts/test-editors`);
  }
  return value;
}

function readHooks(): HookState | undefined {
  return session?.readHooks() as HookState | undefined;
}

function modelCodes(state: HookState | undefined): string[] {
  const entry = state?.diagnostics.find((d) => d.uri.endsWith('/demo/model.py'));
  return entry ? entry.items.map((d) => String(d.code)) : [];
}

/** The text of our Output channel's log files (VS Code writes each output channel to a file). */
function outputLog(): string {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : []) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        walk(full);
      } else if (/pyengineer/i.test(entry.name) && entry.name.endsWith('.log')) {
        found.push(full);
      }
    }
  };
  walk(path.join(userDataDir, 'logs'));
  return found.map((file) => fs.readFileSync(file, 'utf8')).join('\n');
}

/** The newest log files VS Code wrote for our output channel and the extension host, for failure messages. */
function logTail(): string {
  return session ? session.logTail() : '';
}

async function screenshot(name: string): Promise<string> {
  fs.mkdirSync(artifacts, { recursive: true });
  const file = path.join(artifacts, name);
  await page.screenshot({ path: file });
  return file;
}

/** How many of the extension's messages so far matched `pattern` (it records each toast it shows). */
function messagesMatching(pattern: RegExp): string[] {
  return (readHooks()?.messages ?? []).filter((m) => pattern.test(m));
}

/** The toasts on screen now whose text matches `pattern`: the server's showMessage would be one of them. */
async function toastsMatching(pattern: RegExp): Promise<string[]> {
  const texts = await page.locator('.notification-toast').allInnerTexts().catch(() => [] as string[]);
  return texts.filter((t) => pattern.test(t));
}

/** Our status bar entry (VS Code gives it the id <publisher>.<name>.<item id>). */
function statusEntry() {
  return page.locator('[id="pyengineer.pyengineer.pyengineer.status"]');
}

before(async () => {
  const codeServerBin = required('CODE_SERVER');
  const nodeBin = required('CODE_SERVER_NODE_BIN');
  const vsix = process.env.PYENGINEER_VSIX || path.join(projectRoot(), 'vscode-extension', 'pyengineer.vsix');
  assert.ok(fs.existsSync(vsix), `${vsix} missing: run npm run package first`);
  const server = serverExecutable();

  scenario = createScenario('pyengineer-vscode-');
  userDataDir = path.join(scenario.base, 'user-data');
  const extensionsDir = path.join(scenario.base, 'extensions');
  const xdg = path.join(scenario.base, 'xdg');
  hooksFile = path.join(scenario.base, 'hooks.json');
  for (const dir of [path.join(userDataDir, 'User'), extensionsDir, `${xdg}/config`, `${xdg}/data`, `${xdg}/cache`, `${xdg}/tmp`]) {
    fs.mkdirSync(dir, { recursive: true });
  }
  settingsFile = path.join(userDataDir, 'User', 'settings.json');
  baseSettings = {
    'pyengineer.serverPath': server,
    ...QUIET_SETTINGS,
    // The test types settings.json: keep what it types literal.
    'editor.autoClosingBrackets': 'never',
    'editor.autoClosingQuotes': 'never',
    'editor.autoSurround': 'never',
    'editor.formatOnType': false,
  };
  fs.writeFileSync(settingsFile, JSON.stringify(baseSettings, null, 2));
  // serverPath and interpreter are machine-overridable: in code-server (a remote window) they are read from the
  // machine settings, as for any remote VS Code.
  machineSettingsFile = path.join(userDataDir, 'Machine', 'settings.json');
  fs.mkdirSync(path.dirname(machineSettingsFile), { recursive: true });
  fs.writeFileSync(machineSettingsFile, JSON.stringify({ 'pyengineer.serverPath': server }, null, 2));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${nodeBin}${path.delimiter}${process.env.PATH ?? ''}`,
    XDG_CONFIG_HOME: `${xdg}/config`,
    XDG_DATA_HOME: `${xdg}/data`,
    XDG_CACHE_HOME: `${xdg}/cache`,
    TMPDIR: `${xdg}/tmp`,
    PYENGINEER_TEST_HOOKS: '1',
    PYENGINEER_TEST_HOOKS_FILE: hooksFile,
  };
  delete env.VSCODE_IPC_HOOK_CLI;
  delete env.ANTHROPIC_API_KEY; // the API key test needs the server to start without one

  session = new CodeServerSession({ codeServer: codeServerBin, vsix, userDataDir, extensionsDir, hooksFile, env, install: true });
  await session.start();
  page = session.page;
  await session.openFolder(scenario.repo);
});

after(async () => {
  await session?.stop();
  if (process.env.PYENGINEER_KEEP_SCENARIO !== '1') {
    scenario?.cleanup();
  }
});

// The screen at the end of each test, for people looking at a failure.
afterEach(async (t) => {
  if (page) {
    const slug = t.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 60);
    await screenshot(`after-${slug}.png`).catch(() => undefined);
  }
});

async function openModelFile(): Promise<void> {
  // As a user would: double-click model.py in the Explorer (a kept tab, not a preview another file replaces).
  await session!.openFile('model.py');
}

test('the extension starts the server and PE101/PE201 reach VS Code', async () => {
  await openModelFile();
  const state = await waitFor('PE101 and PE201 in vscode.languages.getDiagnostics', 120_000, () => {
    const current = readHooks();
    const found = modelCodes(current);
    return found.includes('PE101') && found.includes('PE201') ? current : undefined;
  }, logTail);
  assert.equal(state.clientState, 'Running');
  const pe201 = state.diagnostics.find((d) => d.uri.endsWith('/model.py'))!.items.find((d) => d.code === 'PE201')!;
  assert.equal(pe201.range[0], 0, 'PE201 is on the import line');
});

test('VS Code offers the Create branch and Hand off quick fixes', async () => {
  const titles = await waitFor('code actions for model.py', 30_000, () => {
    const state = readHooks();
    const entry = Object.entries(state?.codeActions ?? {}).find(([uri]) => uri.endsWith('/model.py'));
    return entry && entry[1].some((t) => t.startsWith('Create branch')) ? entry[1] : undefined;
  }, logTail);
  assert.ok(titles.some((t) => /^Create branch '.+' \(keeps your changes\)$/.test(t)), JSON.stringify(titles));
  assert.ok(titles.includes('Hand off to ai-engineer'), JSON.stringify(titles));
});

/** A real nbformat 4 notebook: a markdown cell, then a code cell importing torch (with its output). */
const NOTEBOOK = {
  cells: [
    { cell_type: 'markdown', metadata: {}, source: ['# Explore\n', '\n', 'A look at the model.'] },
    {
      cell_type: 'code',
      execution_count: 1,
      metadata: {},
      outputs: [{ output_type: 'stream', name: 'stdout', text: ['tensor([0.])\n'] }],
      source: ['%matplotlib inline\n', 'import torch\n', '\n', 'print(torch.zeros(1))\n'],
    },
  ],
  metadata: { kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' } },
  nbformat: 4,
  nbformat_minor: 5,
};

test('a Jupyter notebook opens in the notebook editor and its cell gets diagnostics and quick fixes', async () => {
  // No Jupyter extension is installed: VS Code's built-in ipynb support opens it (Quick Open, as a user would).
  fs.writeFileSync(path.join(scenario.repo, 'explore.ipynb'), `${JSON.stringify(NOTEBOOK, null, 1)}\n`);
  await page.keyboard.press('Control+P');
  const quickOpen = page.locator('.quick-input-widget input');
  await quickOpen.waitFor({ state: 'visible', timeout: 15_000 });
  await quickOpen.fill('explore.ipynb');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'explore.ipynb' }).first().waitFor({ timeout: 30_000 });
  await page.keyboard.press('Enter');
  const notebookEditor = page.locator('.notebook-editor').first();
  // Opened in the notebook editor, not as JSON text: VS Code's own ipynb support is the default editor for it.
  await notebookEditor.waitFor({ state: 'visible', timeout: 60_000 });
  const inCell = (state: HookState | undefined) =>
    state?.diagnostics.find((d) => d.uri.startsWith('vscode-notebook-cell:') && d.uri.includes('/explore.ipynb'));
  const cell = await waitFor('PE201 in the code cell of explore.ipynb', 120_000, () => {
    const entry = inCell(readHooks());
    return entry?.items.some((d) => d.code === 'PE201') ? entry : undefined;
  }, logTail);
  const pe201 = cell.items.find((d) => d.code === 'PE201')!;
  // The cell's own line 1 (`import torch`, below the masked magic), not a line of the notebook file.
  assert.equal(pe201.range[0], 1, JSON.stringify(cell));
  // The quick fixes of the cell, as a user gets them: the cursor on `torch`, then Ctrl+.
  await page.locator('.notebook-editor .cell-editor-container .view-line', { hasText: /import.torch/ }).first().click();
  await page.keyboard.press('End');
  // Before Ctrl+., the cell's editor needs its model attached (until then VS Code has no code actions for it).
  await page.waitForTimeout(1000);
  await page.keyboard.press('Control+.');
  const handOff = page.locator('.action-widget', { hasText: 'Hand off to ai-engineer' }).first();
  await handOff.waitFor({ state: 'visible', timeout: 30_000 });
  await page.waitForTimeout(500);
  await screenshot('screenshot-notebook-quick-fix.png');
  await page.keyboard.press('Escape');
  await page.waitForTimeout(800);
  await screenshot('screenshot-notebook.png');
  // Closing the notebook clears its cells' diagnostics.
  await page.keyboard.press('Control+W');
  await waitFor('the cell diagnostics cleared on close', 30_000, () => (inCell(readHooks()) ? undefined : true), logTail);
  await openModelFile();
});

test('the status bar shows the protected branch, without repeating the name the Git item shows', async () => {
  const entry = statusEntry();
  await entry.waitFor({ state: 'visible', timeout: 30_000 });
  const text = await waitFor('status bar entry saying protected', 30_000, async () => {
    const shown = await entry.innerText();
    return /protected/.test(shown) ? shown : undefined;
  }, logTail);
  assert.doesNotMatch(text, /\bmain\b/, 'the branch name is the Git item\'s to show');
  // Show the Problems panel for the screenshot people look at.
  await page.keyboard.press('Control+Shift+M');
  await page.locator('.markers-panel').first().waitFor({ timeout: 15_000 }).catch(() => undefined);
  await page.waitForTimeout(800);
  await screenshot('screenshot-protected-branch.png');
});

test('"Create Feature Branch" from the command palette switches the branch and keeps the edit', async () => {
  await page.locator('.monaco-editor .view-lines').first().click();
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 15_000 });
  await input.fill('>pyengineer: Create Feature Branch');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Create Feature Branch' }).first();
  await row.waitFor({ timeout: 15_000 });
  await page.keyboard.press('Enter');

  // The input box comes prefilled with the server's best suggestion.
  const name = await waitFor('the branch name input, prefilled', 30_000, async () => {
    const title = await page.locator('.quick-input-widget .quick-input-title').innerText().catch(() => '');
    const value = await input.inputValue().catch(() => '');
    return title.includes('Create Feature Branch') && value !== '' ? value : undefined;
  }, logTail);
  await page.waitForTimeout(500);
  await screenshot('screenshot-create-branch.png');
  await page.keyboard.press('Enter');

  await waitFor(`git HEAD on ${name}`, 30_000, () => (currentBranch(scenario.repo) === name ? true : undefined), logTail);
  assert.equal(fs.readFileSync(scenario.modelPath, 'utf8'), EDITED_MODEL, 'the edited file is byte-identical');

  await waitFor('PE101 gone, PE201 still there', 60_000, () => {
    const found = modelCodes(readHooks());
    return !found.includes('PE101') && found.includes('PE201') ? true : undefined;
  }, logTail);
  await waitFor('status bar no longer saying protected', 30_000, async () => {
    const text = await statusEntry().innerText();
    return text.includes('protected') ? undefined : text;
  }, logTail);
  // One voice: the switch is announced once (the extension, from the result), not also by the server.
  await page.waitForTimeout(1000);
  const switched = new RegExp(`Switched to the new branch '${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'`);
  assert.equal(messagesMatching(switched).length, 1, JSON.stringify(readHooks()?.messages));
  assert.equal((await toastsMatching(/new branch/)).length, 1, JSON.stringify(await toastsMatching(/./)));
  await screenshot('screenshot-feature-branch.png');
});

async function runFromPalette(title: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 15_000 });
  await input.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title.replace(/^pyengineer: /, '') }).first().waitFor();
  await page.keyboard.press('Enter');
}

test('clicking the status bar item shows the project context', async () => {
  await statusEntry().click();
  const editor = page.locator('.monaco-editor .view-lines', { hasText: '"python_project"' }).first();
  await editor.waitFor({ state: 'visible', timeout: 30_000 });
  const text = (await editor.innerText()).replace(/\u00a0/g, ' ');
  assert.ok(text.includes(`"root": "${scenario.repo}"`), text.slice(0, 500));
  assert.match(text, /"python_project": true/, text.slice(0, 500));
  await page.locator('.tab[aria-label*="project context.json"]').first().waitFor({ timeout: 10_000 });
  await page.keyboard.press('Control+W');
});

test('"Hand Off to ai-engineer" writes the note and opens it', async () => {
  await page.locator('.tab[aria-label*="model.py"]').first().click();
  await runFromPalette('pyengineer: Hand Off to ai-engineer');
  const handoffs = path.join(scenario.repo, 'docs', 'handoffs');
  const note = await waitFor('a hand-off note in docs/handoffs', 60_000, () => {
    const files = fs.existsSync(handoffs) ? fs.readdirSync(handoffs).filter((f) => f.endsWith('.md')) : [];
    return files[0];
  }, logTail);
  await page.locator(`.tab[aria-label*="${note}"]`).first().waitFor({ timeout: 30_000 });
  assert.match(fs.readFileSync(path.join(handoffs, note), 'utf8'), /model\.py/);
  await waitFor('the hand-off message', 15_000, () => (messagesMatching(/Hand-off document written/).length > 0 ? true : undefined));
  await page.waitForTimeout(1000);
  assert.equal(messagesMatching(/Hand-off document written/).length, 1, JSON.stringify(readHooks()?.messages));
  assert.equal((await toastsMatching(/hand-off/i)).length, 1, JSON.stringify(await toastsMatching(/./)));
  await openModelFile();
});

test('Set / Clear Anthropic API Key: kept in secret storage, passed to the running server', async () => {
  const llm = () => (readHooks()?.status as { llm?: { available?: boolean } } | null)?.llm;
  assert.equal(llm()?.available, false, 'no key yet');
  const key = 'sk-ant-e2e-not-a-real-key';
  await runFromPalette('pyengineer: Set Anthropic API Key');
  const input = page.locator('.quick-input-widget input');
  await page.locator('.quick-input-widget', { hasText: 'secret storage' }).waitFor({ timeout: 15_000 });
  assert.equal(await input.getAttribute('type'), 'password');
  await input.fill(key);
  await page.keyboard.press('Enter');
  await waitFor('the server to report the LLM available', 30_000, () => (llm()?.available ? true : undefined), logTail);
  await waitFor('status bar saying LLM on', 15_000, async () =>
    (await statusEntry().innerText()).includes('LLM on') ? true : undefined,
  );
  for (const file of [settingsFile, machineSettingsFile]) {
    assert.ok(!fs.readFileSync(file, 'utf8').includes(key), `${file} must not hold the key`);
  }
  // The key reached the server once: the server's log (in our Output channel) says it once, and so do we.
  assert.equal(messagesMatching(/API key saved/).length, 1, JSON.stringify(readHooks()?.messages));
  const setLines = (outputLog().match(/Anthropic API key set/g) ?? []).length;
  assert.equal(setLines, 1, outputLog().slice(-3000));
  await runFromPalette('pyengineer: Clear Anthropic API Key');
  await waitFor('the server to report the LLM unavailable again', 30_000, () => (llm()?.available === false ? true : undefined));
});

test('"Ask python-engineer" without an API key says how to enable it', async () => {
  await page.locator('.tab[aria-label*="model.py"]').first().click();
  await runFromPalette('pyengineer: Ask python-engineer');
  const input = page.locator('.quick-input-widget input');
  await page.locator('.quick-input-widget', { hasText: 'Ask about this file' }).waitFor({ timeout: 15_000 });
  await input.fill('Is this safe?');
  await page.keyboard.press('Enter');
  const toast = page.locator('.notification-toast', { hasText: 'python-engineer is not available' }).first();
  await toast.waitFor({ state: 'visible', timeout: 60_000 });
  // The advice is VS Code's own command, not an environment variable.
  assert.match(await toast.innerText(), /pyengineer: Set Anthropic API Key/);
  assert.doesNotMatch(await toast.innerText(), /ANTHROPIC_API_KEY/);
  await toast.getByRole('button', { name: 'Set Anthropic API Key' }).waitFor({ timeout: 5_000 });
  await page.waitForTimeout(1000);
  assert.equal((await toastsMatching(/not available|No Anthropic API key/)).length, 1, JSON.stringify(await toastsMatching(/./)));
  assert.equal(await page.locator('.tab[aria-label*="python-engineer answer"]').count(), 0, 'no empty answer opened');
});

let featureBranch = '';

/**
 * Replaces the user or the machine (remote) settings the way a user would: Preferences: Open User Settings
 * (JSON) or Open Remote Settings (JSON), select all, type, save.
 */
async function editSettings(kind: 'User' | 'Remote', settings: Record<string, unknown>): Promise<void> {
  const file = kind === 'User' ? settingsFile : machineSettingsFile;
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 15_000 });
  await input.fill(`>Preferences: Open ${kind} Settings (JSON)`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: `Open ${kind} Settings (JSON)` }).first().waitFor();
  await page.keyboard.press('Enter');
  // VS Code 1.139 opens settings.json in a modal editor, older versions in a tab: both show its name.
  await page.getByText('settings.json', { exact: true }).first().waitFor({ timeout: 15_000 });
  await page.waitForTimeout(1000);
  await page.keyboard.press('Control+A');
  // One line: typing newlines would trigger the editor's auto-indent and bracket completion.
  await page.keyboard.insertText(JSON.stringify(settings));
  await page.keyboard.press('Control+S');
  await waitFor(`${file} saved`, 15_000, () => {
    try {
      return JSON.stringify(JSON.parse(fs.readFileSync(file, 'utf8'))) === JSON.stringify(settings) ? true : undefined;
    } catch {
      return undefined;
    }
  });
  await page.keyboard.press('Control+W');
  await page.locator('.tab.active[aria-label*="model.py"]').waitFor({ timeout: 15_000 });
}

test('a settings change reaches the running server without a restart', async () => {
  featureBranch = currentBranch(scenario.repo);
  assert.notEqual(featureBranch, 'main');
  assert.ok(readHooks()?.status, 'a status was received');
  await editSettings('User', { ...baseSettings, 'pyengineer.protectedBranches': ['main', 'master', 'develop', featureBranch] });
  await waitFor('PE101 back once the feature branch is protected', 60_000, () =>
    modelCodes(readHooks()).includes('PE101') ? true : undefined, logTail);
  const state = readHooks()!;
  assert.equal(state.clientState, 'Running');
});

test('without pyengineer in the interpreter, the extension says so and shows how to install it', async () => {
  // /usr/bin/python3 does not have pyengineer (it lives in the project's .venv): the extension restarts on the
  // change, checks, and must not fail silently.
  await editSettings('Remote', { 'pyengineer.serverPath': '', 'pyengineer.interpreter': '/usr/bin/python3' });
  const toast = page.locator('.notification-toast', { hasText: 'pyengineer is not installed in /usr/bin/python3' });
  await toast.waitFor({ state: 'visible', timeout: 60_000 });
  // The User settings' serverPath is not applied (the Remote settings set it empty): said once, with the fix.
  const ignored = page.locator('.notification-toast', { hasText: 'is set in your User settings but not applied' });
  await ignored.first().waitFor({ state: 'visible', timeout: 15_000 });
  assert.match(await ignored.first().innerText(), /Open Remote Settings \(JSON\)/);
  assert.equal(messagesMatching(/is set in your User settings/).length, 1, JSON.stringify(readHooks()?.messages));
  await screenshot('screenshot-user-setting-ignored.png');
  const statusText = await statusEntry().innerText();
  assert.match(statusText, /not installed/, statusText);
  await toast.getByRole('button', { name: 'How to Install' }).click();
  const dialog = page.locator('.monaco-dialog-box');
  await dialog.waitFor({ state: 'visible', timeout: 15_000 });
  const text = await dialog.innerText();
  assert.match(text, /\/usr\/bin\/python3 -m pip install git\+https:\/\/github\.com\/pyengineer\/pyengineer/, text);
  assert.match(text, /not on PyPI yet/, text);
  await screenshot('screenshot-not-installed.png');
  await page.keyboard.press('Escape');
});

/** Reloads the window as a user would (F5 in the browser) and waits for the workbench. */
async function reloadWindow(): Promise<void> {
  fs.rmSync(hooksFile, { force: true });
  await page.reload();
  await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
}

test('after a window reload, serverPath from the settings still starts the server and diagnostics return', async () => {
  await editSettings('Remote', { 'pyengineer.serverPath': serverExecutable() });
  await waitFor('the server running again', 60_000, () => (readHooks()?.clientState === 'Running' ? true : undefined), logTail);
  await reloadWindow();
  await openModelFile();
  // The hooks file may still hold the window before the reload (its client stopping, its diagnostics): wait
  // for the new window's client running with diagnostics.
  const state = await waitFor('PE201 after the reload', 120_000, () => {
    const current = readHooks();
    return current?.clientState === 'Running' && modelCodes(current).includes('PE201') ? current : undefined;
  }, logTail);
  assert.equal(state.clientState, 'Running');
  assert.ok(!(state.messages ?? []).some((m) => /not installed|ignores/.test(m)), JSON.stringify(state.messages));
  assert.equal(await page.locator('.notification-toast', { hasText: 'not installed' }).count(), 0);
});

test('with serverPath only in the User settings, a reload still starts the server', async () => {
  // The User settings hold serverPath (baseSettings); the Remote settings say nothing about it.
  await editSettings('Remote', {});
  await waitFor('the server running again', 60_000, () => (readHooks()?.clientState === 'Running' ? true : undefined), logTail);
  await reloadWindow();
  await openModelFile();
  // The hooks file may still hold the window before the reload (its client stopping, its diagnostics): wait
  // for the new window's client running with diagnostics.
  const state = await waitFor('PE201 after the reload', 120_000, () => {
    const current = readHooks();
    return current?.clientState === 'Running' && modelCodes(current).includes('PE201') ? current : undefined;
  }, logTail);
  assert.equal(state.clientState, 'Running');
  assert.equal(await page.locator('.notification-toast', { hasText: 'not installed' }).count(), 0);
});
