/**
 * The extension with nothing installed beforehand, in code-server: fresh user-data and extensions folders, the
 * .vsix installed with --install-extension, and a PATH with a python3 but no pyengineer (and no site-packages
 * with it). The first start makes the private environment from the wheel the .vsix carries (pip downloads the
 * dependencies through the machine's pip configuration); the next start reuses it; without any python3 the
 * user gets the one message with the fix and "Show Log".
 *
 * The time from opening the folder to the first diagnostics is printed ("bootstrap timing: ...") and written to
 * $PYENGINEER_ARTIFACTS/bootstrap-timings.json; docs/editors.md records it.
 *
 * Needs (scripts/test-editors sets them): CODE_SERVER, CODE_SERVER_NODE_BIN, PYENGINEER_VSIX (a packaged .vsix,
 * so with the wheel), optionally CHROMIUM, PYENGINEER_ARTIFACTS, and PYENGINEER_E2E_PIP_CACHE (a pip cache to
 * keep between runs; unset, pip starts with an empty cache as on a new machine).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, test } from 'node:test';

import { CodeServerSession, QUIET_SETTINGS, filesUnder } from '../support/codeServer';
import { Scenario, createScenario, projectRoot, waitFor } from '../support/scenario';

const MARKER = 'pyengineer-installed.json';
const artifacts = process.env.PYENGINEER_ARTIFACTS || path.join(projectRoot(), 'test-artifacts', 'vscode');
const timings: Record<string, number | string> = {};

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run this test through scripts/test-editors`);
  }
  return value;
}

const scenario: Scenario = createScenario('pyengineer-bootstrap-');
let session: CodeServerSession | undefined;

after(async () => {
  await session?.stop();
  fs.mkdirSync(artifacts, { recursive: true });
  fs.writeFileSync(path.join(artifacts, 'bootstrap-timings.json'), `${JSON.stringify(timings, null, 2)}\n`);
  if (process.env.PYENGINEER_KEEP_SCENARIO !== '1') {
    scenario.cleanup();
  }
});

afterEach(async (t) => {
  const slug = t.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 60);
  await session?.screenshot(path.join(artifacts, `bootstrap-${slug}.png`));
});

/** Names that would put a Python, pip, uv or pyengineer on PATH. */
const PYTHONISH = /^(python|pip|pyengineer|uv|uvx|pydoc|idle|2to3|virtualenv|pipx)/i;

/**
 * A bin folder with the system's programs (git, sh, ...) but no Python tooling, and, when given, `python3` as a
 * link to that interpreter: the PATH of a machine where nothing of pyengineer was installed.
 */
function binFolder(dir: string, python: string | undefined): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const source of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    for (const name of fs.existsSync(source) ? fs.readdirSync(source) : []) {
      const target = path.join(dir, name);
      if (PYTHONISH.test(name) || fs.existsSync(target)) {
        continue;
      }
      try {
        if (fs.statSync(path.join(source, name)).isFile()) {
          fs.symlinkSync(path.join(source, name), target);
        }
      } catch {
        // a dangling link in the system folder
      }
    }
  }
  if (python) {
    fs.symlinkSync(python, path.join(dir, 'python3'));
  }
  return dir;
}

/** The real interpreter behind `python3` on this machine's PATH (not a pyenv shim, which needs pyenv). */
function realPython3(): string {
  return execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
}

function freshSession(name: string, python: string | undefined): CodeServerSession {
  const base = path.join(scenario.base, name);
  const userDataDir = path.join(base, 'user-data');
  const xdg = path.join(base, 'xdg');
  for (const dir of [path.join(userDataDir, 'User'), path.join(base, 'extensions'), `${xdg}/config`, `${xdg}/data`, `${xdg}/cache`, `${xdg}/tmp`]) {
    fs.mkdirSync(dir, { recursive: true });
  }
  // Nothing points the extension at a server: no serverPath, no interpreter.
  fs.writeFileSync(path.join(userDataDir, 'User', 'settings.json'), JSON.stringify(QUIET_SETTINGS, null, 2));
  // The user's own pip configuration stays theirs (XDG_CONFIG_HOME moves for code-server's sake only).
  const userPipConf = path.join(process.env.HOME ?? '/root', '.config', 'pip', 'pip.conf');
  if (fs.existsSync(userPipConf)) {
    fs.mkdirSync(`${xdg}/config/pip`, { recursive: true });
    fs.copyFileSync(userPipConf, `${xdg}/config/pip/pip.conf`);
  }
  const bin = binFolder(path.join(base, 'bin'), python);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${required('CODE_SERVER_NODE_BIN')}${path.delimiter}${bin}`,
    XDG_CONFIG_HOME: `${xdg}/config`,
    XDG_DATA_HOME: `${xdg}/data`,
    XDG_CACHE_HOME: `${xdg}/cache`,
    TMPDIR: `${xdg}/tmp`,
    PYENGINEER_TEST_HOOKS: '1',
    PYENGINEER_TEST_HOOKS_FILE: path.join(base, 'hooks.json'),
    // As when started from a terminal: VS Code then takes this PATH as it is, instead of the one a login shell
    // would give (~/.bashrc here puts pyenv's Pythons on it, and /etc/profile /usr/bin).
    VSCODE_CLI: '1',
  };
  for (const name of ['VSCODE_IPC_HOOK_CLI', 'ANTHROPIC_API_KEY', 'VIRTUAL_ENV', 'PYTHONPATH', 'PYTHONHOME', 'PYTHONUSERBASE', 'PYENGINEER_SERVER', 'PIP_CACHE_DIR']) {
    delete env[name];
  }
  if (process.env.PYENGINEER_E2E_PIP_CACHE) {
    env.PIP_CACHE_DIR = process.env.PYENGINEER_E2E_PIP_CACHE;
  }
  return new CodeServerSession({
    codeServer: required('CODE_SERVER'),
    vsix: process.env.PYENGINEER_VSIX || path.join(projectRoot(), 'vscode-extension', 'pyengineer.vsix'),
    userDataDir,
    extensionsDir: path.join(base, 'extensions'),
    hooksFile: path.join(base, 'hooks.json'),
    env,
    install: true,
  });
}

function markers(userDataDir: string): string[] {
  return filesUnder(path.join(userDataDir, 'User', 'globalStorage'), (name) => name === MARKER);
}

/** Opens the folder and model.py; resolves with the seconds until PE101 and PE201 are in VS Code. */
async function secondsToDiagnostics(current: CodeServerSession, limitMs: number, during?: () => Promise<void>): Promise<number> {
  const started = Date.now();
  await current.openFolder(scenario.repo);
  await current.openFile('model.py');
  const watching = during?.();
  await waitFor('PE101 and PE201 on model.py', limitMs, () => {
    const entry = current.readHooks()?.diagnostics.find((d) => d.uri.endsWith('/demo/model.py'));
    const codes = entry?.items.map((d) => String(d.code)) ?? [];
    return codes.includes('PE101') && codes.includes('PE201') ? true : undefined;
  }, current.logTail);
  const seconds = (Date.now() - started) / 1000;
  await watching;
  return Math.round(seconds * 10) / 10;
}

/** Seconds between the extension's first log lines containing `from` and `to` ("[client <ISO time>] ..."). */
function secondsBetween(log: string, from: string, to: string): number {
  const at = (text: string): number => Date.parse(new RegExp(`\\[client ([^\\]]+)\\] [^\\n]*${text}`).exec(log)?.[1] ?? '');
  return Math.round((at(to) - at(from)) / 100) / 10;
}

let firstUserData = '';
let firstMarker = '';

test('first run: no pyengineer anywhere, the extension makes its environment and diagnostics appear', async () => {
  const python = realPython3();
  session = freshSession('first', python);
  const env = session.options.env;
  // The machine really has no pyengineer: not on PATH, not importable by the python3 on it.
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    assert.ok(!fs.existsSync(path.join(dir, 'pyengineer')), `pyengineer in ${dir}`);
  }
  const visible = execFileSync('python3', ['-c', 'import importlib.util; print(importlib.util.find_spec("pyengineer") is not None)'], { env, encoding: 'utf8' }).trim();
  assert.equal(visible, 'False', `the python3 on the test PATH (${python}) can import pyengineer`);

  await session.start();
  let sawProgress = false;
  const seconds = await secondsToDiagnostics(session, 600_000, async () => {
    const toast = session!.page.locator('.notification-toast', { hasText: 'installing its server into a private environment' }).first();
    sawProgress = await toast.waitFor({ state: 'visible', timeout: 120_000 }).then(() => true, () => false);
  });
  timings.firstRunSeconds = seconds;
  timings.pipCache = process.env.PYENGINEER_E2E_PIP_CACHE ? 'kept between runs' : 'empty';
  // The part of it spent making the environment, from the extension's own log lines.
  const log = session.outputLog();
  timings.installSeconds = secondsBetween(log, 'Using the private environment', 'private environment ready');
  timings.loadAverage = os.loadavg()[0].toFixed(1);
  console.log(
    `bootstrap timing: first run (makes the environment, pip cache ${String(timings.pipCache)}): ${seconds} s, ` +
      `of which the install ${String(timings.installSeconds)} s (load average ${String(timings.loadAverage)})`,
  );

  const state = session.readHooks();
  assert.equal(state?.clientState, 'Running');
  assert.deepEqual(state?.errors, []);
  const found = markers(session.options.userDataDir);
  assert.equal(found.length, 1, `one environment under globalStorage: ${found.join(', ')}`);
  const marker = JSON.parse(fs.readFileSync(found[0], 'utf8')) as { wheel: string };
  assert.match(marker.wheel, /^pyengineer-.+\.whl$/);
  assert.match(session.outputLog(), /from pyengineer's private environment/);
  assert.ok(sawProgress, 'a progress notification while installing');
  firstUserData = session.options.userDataDir;
  firstMarker = fs.readFileSync(found[0], 'utf8');
  await session.stop();
});

test('later runs reuse the environment', async () => {
  assert.ok(firstUserData, 'the first run passed');
  const previous = freshSession('first-again', realPython3());
  session = new CodeServerSession({
    ...previous.options,
    userDataDir: firstUserData,
    extensionsDir: path.join(path.dirname(firstUserData), 'extensions'),
    hooksFile: path.join(path.dirname(firstUserData), 'hooks-again.json'),
    env: { ...previous.options.env, PYENGINEER_TEST_HOOKS_FILE: path.join(path.dirname(firstUserData), 'hooks-again.json') },
    install: false,
  });
  await session.start();
  const seconds = await secondsToDiagnostics(session, 180_000);
  timings.laterRunSeconds = seconds;
  timings.laterLoadAverage = os.loadavg()[0].toFixed(1);
  // The extension's own share: from its activation to the server running (the rest is the workbench loading).
  timings.laterActivationToServerSeconds = secondsBetween(session.outputLog(true), 'pyengineer extension', 'server started');
  console.log(
    `bootstrap timing: later run (reuses the environment): ${seconds} s, of which activation to server started ` +
      `${String(timings.laterActivationToServerSeconds)} s (load average ${String(timings.laterLoadAverage)})`,
  );
  const found = markers(firstUserData);
  assert.equal(found.length, 1);
  assert.equal(fs.readFileSync(found[0], 'utf8'), firstMarker, 'the environment was not made again');
  assert.match(session.outputLog(true), /using the private environment/);
  assert.deepEqual(session.readHooks()?.errors, []);
  await session.stop();
});

test('no suitable Python: one message with the fix and "Show Log"', async () => {
  session = freshSession('no-python', undefined);
  await session.start();
  await session.openFolder(scenario.repo);
  await session.openFile('model.py');
  const page = session.page;
  const toast = page.locator('.notification-toast', { hasText: 'needs Python 3.11 or newer' }).first();
  await toast.waitFor({ state: 'visible', timeout: 120_000 });
  const text = await toast.innerText();
  assert.match(text, /no python3 on PATH/, text);
  assert.match(text, /Install Python 3\.11\+/, text);
  assert.match(text, /Restart Server/, text);
  await waitFor('the error recorded', 10_000, () => (session!.readHooks()?.errors.length ? true : undefined));
  // Give a second message the time to appear, then count: one.
  await page.waitForTimeout(3000);
  assert.equal(session.readHooks()?.errors.length, 1, JSON.stringify(session.readHooks()?.errors));
  assert.equal(await page.locator('.notification-toast', { hasText: 'pyengineer' }).count(), 1, 'one pyengineer notification');
  assert.match(session.readHooks()?.statusBar ?? '', /not installed/);
  await toast.getByRole('button', { name: 'Show Log' }).click();
  await page.locator('.output-view, .panel .monaco-editor', { hasText: 'needs Python 3.11 or newer' }).first().waitFor({ timeout: 30_000 });
  await session.screenshot(path.join(artifacts, 'screenshot-no-python.png'));
  assert.deepEqual(markers(session.options.userDataDir), [], 'no environment made');
  await session.stop();
});
