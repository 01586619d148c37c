/**
 * The private environment (src/bootstrap.ts): the interpreter choice and its messages, the marker, and real
 * installs with python3's venv and pip of a small local wheel (no index is needed for a wheel without
 * dependencies), including a half-finished install and a new extension version.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';

import {
  BootstrapError,
  EnvLayout,
  ProbeResult,
  PythonProbe,
  bundledWheel,
  choosePython,
  ensureEnvironment,
  envLayout,
  installSteps,
  isReady,
  probePython,
  pythonCandidates,
  readMarker,
  sha256Of,
} from '../../src/bootstrap';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pyengineer-bootstrap-'));
after(() => fs.rmSync(base, { recursive: true, force: true }));

function probe(version: [number, number, number], canVenv = true, from = 'python3 on PATH'): ProbeResult {
  const p: PythonProbe = { command: 'python3', from, executable: `/usr/bin/python${version[0]}.${version[1]}`, version, canVenv };
  return { probe: p };
}

/** A real wheel of a tiny `pyengineer` package (with the `pyengineer.entry` module the install check imports). */
function makeWheel(version: string, broken = false): string {
  const folder = fs.mkdtempSync(path.join(base, 'wheel-'));
  const file = path.join(folder, `pyengineer-${version}-py3-none-any.whl`);
  if (broken) {
    fs.writeFileSync(file, 'not a zip file');
    return file;
  }
  const script = `
import sys, zipfile
file, version = sys.argv[1], sys.argv[2]
info = f"pyengineer-{version}.dist-info"
files = {
    "pyengineer/__init__.py": f"VERSION = {version!r}\\n",
    "pyengineer/entry.py": "",
    f"{info}/METADATA": f"Metadata-Version: 2.1\\nName: pyengineer\\nVersion: {version}\\n",
    f"{info}/WHEEL": "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
record = "".join(f"{name},,\\n" for name in files) + f"{info}/RECORD,,\\n"
with zipfile.ZipFile(file, "w") as z:
    for name, text in files.items():
        z.writestr(name, text)
    z.writestr(f"{info}/RECORD", record)
`;
  execFileSync('python3', ['-c', script, file, version]);
  return file;
}

function installedVersion(layout: EnvLayout): string {
  return execFileSync(layout.python, ['-c', 'import pyengineer; print(pyengineer.VERSION)'], { encoding: 'utf8' }).trim();
}

test('the first Python >= 3.11 that can make a venv is chosen; uv needs no venv module', () => {
  const old = probe([3, 9, 2]);
  const noVenv = probe([3, 12, 1], false);
  const good = probe([3, 11, 7], true, 'python3.11 on PATH');
  const chosen = choosePython([old, noVenv, good], false, 'linux');
  assert.ok('probe' in chosen);
  assert.equal(chosen.probe.from, 'python3.11 on PATH');
  assert.equal(chosen.installer, 'pip');
  const withUv = choosePython([old, noVenv, good], true, 'linux');
  assert.ok('probe' in withUv);
  assert.deepEqual([withUv.probe.version, withUv.installer], [[3, 12, 1], 'uv']);
});

test('no suitable Python: one message naming what was found and the fix', () => {
  const none = choosePython([{ command: 'python3', from: 'python3 on PATH', problem: 'not found' }], false, 'linux');
  assert.ok('problem' in none);
  assert.match(none.problem, /needs Python 3\.11 or newer .* found none \(no python3 on PATH\)/);
  assert.match(none.problem, /Restart Server/);
  const old = choosePython([probe([3, 10, 12])], false, 'linux');
  assert.ok('problem' in old);
  assert.match(old.problem, /python3 on PATH is 3\.10\.12/);
  const noVenv = choosePython([probe([3, 11, 2], false)], false, 'linux');
  assert.ok('problem' in noVenv);
  assert.match(noVenv.problem, /no venv module.*sudo apt install python3\.11-venv.*or install uv/);
});

test("the Python extension's interpreter is tried first, then the names on PATH", () => {
  const candidates = pythonCandidates('/p/.venv/bin/python', 'linux').map((c) => c.command);
  assert.deepEqual(candidates.slice(0, 2), ['/p/.venv/bin/python', 'python3']);
  assert.ok(candidates.includes('python3.11'));
  assert.equal(pythonCandidates(undefined, 'win32')[0].command, 'python');
});

test('the install commands name no index: pip and uv read the user configuration themselves', () => {
  const layout = envLayout('/s', 'ab'.repeat(32), 'linux');
  for (const installer of ['pip', 'uv'] as const) {
    const words = installSteps(installer, '/usr/bin/python3', layout, '/x/pyengineer-1-py3-none-any.whl').flatMap((s) => s.args);
    assert.ok(!words.some((w) => /index|find-links|^-i$|trusted-host/.test(w)), words.join(' '));
    assert.ok(words.includes('/x/pyengineer-1-py3-none-any.whl'));
  }
  assert.equal(layout.python, path.join('/s', 'envs', 'abababababababab', 'bin', 'python'));
});

test('probePython runs the interpreter; a missing one is "not found"', async () => {
  const real = await probePython('python3', 'python3 on PATH');
  assert.ok('probe' in real, JSON.stringify(real));
  assert.ok(real.probe.version[0] === 3 && fs.existsSync(real.probe.executable));
  const missing = await probePython(path.join(base, 'no-such-python'), 'test');
  assert.deepEqual(missing, { command: path.join(base, 'no-such-python'), from: 'test', problem: 'not found' });
});

test('bundledWheel finds the wheel in dist/wheel, and nothing in a development build', () => {
  const extension = fs.mkdtempSync(path.join(base, 'extension-'));
  assert.equal(bundledWheel(extension), undefined);
  fs.mkdirSync(path.join(extension, 'dist', 'wheel'), { recursive: true });
  fs.writeFileSync(path.join(extension, 'dist', 'wheel', 'pyengineer-0.1.0-py3-none-any.whl'), '');
  assert.equal(bundledWheel(extension), path.join(extension, 'dist', 'wheel', 'pyengineer-0.1.0-py3-none-any.whl'));
});

test('a real install is made once and reused; a half-finished one is made again; a new wheel replaces it', async () => {
  const storage = path.join(base, 'storage');
  const log: string[] = [];
  const options = { storage, pythonExtensionInterpreter: undefined, platform: process.platform, log: (l: string) => log.push(l), uv: null };
  const started: string[] = [];

  const v1 = makeWheel('0.0.1');
  const first = await ensureEnvironment({ ...options, wheel: v1, onInstallStart: (m) => started.push(m) });
  assert.equal(first.installedNow, true);
  assert.equal(started.length, 1, 'a progress notification for the install');
  assert.equal(installedVersion(first.layout), '0.0.1');
  const marker = readMarker(first.layout.marker);
  assert.equal(marker?.wheel, 'pyengineer-0.0.1-py3-none-any.whl');
  assert.equal(marker?.installer, 'pip');
  assert.ok(!fs.existsSync(first.layout.lock), 'the lock is released');

  const again = await ensureEnvironment({ ...options, wheel: v1, onInstallStart: (m) => started.push(m) });
  assert.deepEqual([again.installedNow, again.python, started.length], [false, first.python, 1]);

  // The window closed during the install: the folder exists, the marker does not.
  fs.rmSync(first.layout.marker);
  assert.equal(isReady(first.layout, marker?.sha256 ?? ''), false);
  const redone = await ensureEnvironment({ ...options, wheel: v1 });
  assert.equal(redone.installedNow, true);
  assert.ok(log.some((l) => l.includes('removing the unfinished environment')), log.join('\n'));
  assert.equal(installedVersion(redone.layout), '0.0.1');

  // A new extension version carries another wheel: a new environment, the old one removed.
  const v2 = makeWheel('0.0.2');
  const upgraded = await ensureEnvironment({ ...options, wheel: v2 });
  assert.equal(upgraded.installedNow, true);
  assert.notEqual(upgraded.layout.envDir, first.layout.envDir);
  assert.equal(installedVersion(upgraded.layout), '0.0.2');
  assert.ok(!fs.existsSync(first.layout.envDir), 'the old environment is removed');
});

test('an install that fails leaves no marker and says which tool failed', async () => {
  const storage = path.join(base, 'failing');
  const wheel = makeWheel('0.0.3', true);
  const log: string[] = [];
  await assert.rejects(
    ensureEnvironment({ storage, wheel, pythonExtensionInterpreter: undefined, platform: process.platform, log: (l) => log.push(l), uv: null }),
    (error: unknown) => error instanceof BootstrapError && /pip failed .*pip\.conf, PIP_INDEX_URL.*Restart Server/.test(error.message),
  );
  const layout = fs.readdirSync(path.join(storage, 'envs'));
  assert.ok(layout.every((name) => !fs.existsSync(path.join(storage, 'envs', name, 'pyengineer-installed.json'))), layout.join());
});

test('no suitable interpreter among the candidates: the one message, nothing installed', async () => {
  const storage = path.join(base, 'nopython');
  const oldPython = path.join(base, 'python3.9');
  // A stand-in for an old interpreter: answers the probe as Python 3.9 would.
  fs.writeFileSync(oldPython, '#!/bin/sh\necho \'{"version": [3, 9, 18], "executable": "/opt/py39/bin/python3", "venv": true}\'\n', { mode: 0o755 });
  await assert.rejects(
    ensureEnvironment({
      storage,
      wheel: makeWheel('0.0.4'),
      pythonExtensionInterpreter: undefined,
      platform: 'linux',
      log: () => undefined,
      uv: null,
      candidates: [
        { command: oldPython, from: 'python3 on PATH' },
        { command: path.join(base, 'missing'), from: 'python3.11 on PATH' },
      ],
    }),
    (error: unknown) =>
      error instanceof BootstrapError && /needs Python 3\.11 or newer .*\(python3 on PATH is 3\.9\.18\)/.test(error.message),
  );
});

test("a lock left by a window that died mid-install is taken over, not waited for", async () => {
  const storage = path.join(base, 'locked');
  const wheel = makeWheel('0.0.5');
  const layout = envLayout(storage, await sha256Of(wheel), process.platform);
  // The lock and a half-made environment of a process that has exited.
  const gone = spawnSync('true').pid;
  fs.mkdirSync(layout.lock, { recursive: true });
  fs.writeFileSync(path.join(layout.lock, 'pid'), String(gone));
  fs.mkdirSync(layout.envDir, { recursive: true });
  const log: string[] = [];
  const ensured = await ensureEnvironment({ storage, wheel, pythonExtensionInterpreter: undefined, platform: process.platform, log: (l) => log.push(l), uv: null });
  assert.equal(ensured.installedNow, true);
  assert.ok(log.some((l) => l.includes(`process ${gone} is gone`)), log.join('\n'));
  assert.ok(!fs.existsSync(layout.lock));
});
