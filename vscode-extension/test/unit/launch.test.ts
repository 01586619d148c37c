import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { LaunchInputs, checkInstalled, chooseLaunch, expandPath, installCommand } from '../../src/launch';

const base: LaunchInputs = {
  serverPath: '',
  interpreter: '',
  pythonExtensionInterpreter: undefined,
  trusted: true,
  workspaceFolders: ['/w/project'],
  platform: 'linux',
  home: '/home/u',
};

function launchOf(inputs: Partial<LaunchInputs>) {
  const choice = chooseLaunch({ ...base, ...inputs });
  assert.ok('launch' in choice, JSON.stringify(choice));
  return choice.launch;
}

test('serverPath wins and runs `serve`', () => {
  const launch = launchOf({ serverPath: '~/bin/pyengineer', interpreter: '/usr/bin/python3', pythonExtensionInterpreter: '/p' });
  assert.equal(launch.command, '/home/u/bin/pyengineer');
  assert.deepEqual(launch.args, ['serve']);
  assert.equal(launch.origin, 'serverPath');
});

test('interpreter runs -m pyengineer serve', () => {
  const launch = launchOf({ interpreter: '${workspaceFolder}/.venv/bin/python', pythonExtensionInterpreter: '/p' });
  assert.equal(launch.command, '/w/project/.venv/bin/python');
  assert.deepEqual(launch.args, ['-m', 'pyengineer', 'serve']);
  assert.equal(launch.origin, 'interpreter');
});

test("then the Python extension's interpreter, then python3 on PATH", () => {
  assert.equal(launchOf({ pythonExtensionInterpreter: '/opt/py/bin/python' }).command, '/opt/py/bin/python');
  const fallback = launchOf({});
  assert.equal(fallback.command, 'python3');
  assert.equal(fallback.origin, 'path');
  assert.equal(launchOf({ platform: 'win32' }).command, 'python');
});

test('an untrusted workspace never runs its own interpreter', () => {
  // The Python extension's choice may be a workspace virtualenv: ignored when untrusted.
  assert.equal(launchOf({ trusted: false, pythonExtensionInterpreter: '/w/project/.venv/bin/python' }).command, 'python3');
  const refused = chooseLaunch({ ...base, trusted: false, interpreter: '/w/project/.venv/bin/python' });
  assert.ok('refused' in refused);
  assert.match(refused.refused, /untrusted/);
  const refusedRelative = chooseLaunch({ ...base, trusted: false, serverPath: '${workspaceFolder}/tools/pyengineer' });
  assert.ok('refused' in refusedRelative);
  // A user-level executable outside the workspace is fine.
  assert.equal(launchOf({ trusted: false, serverPath: '/usr/local/bin/pyengineer' }).command, '/usr/local/bin/pyengineer');
});

test('expandPath', () => {
  assert.equal(expandPath(' ~ ', [], '/h'), '/h');
  assert.equal(expandPath('${userHome}/x', [], '/h'), '/h/x');
  assert.equal(expandPath('${workspaceFolder}/x', [], '/h'), '${workspaceFolder}/x');
});

test('install command quotes odd interpreter paths', () => {
  const source = 'git+https://github.com/pyengineer/pyengineer';
  assert.equal(installCommand(launchOf({})), `python3 -m pip install ${source}`);
  assert.equal(installCommand(launchOf({ interpreter: '/my env/python' })), `"/my env/python" -m pip install ${source}`);
});

test('checkInstalled reports a missing interpreter', async () => {
  const result = await checkInstalled(launchOf({ interpreter: '/nonexistent/python3' }));
  assert.equal(result.ok, false);
  assert.ok(!result.ok && /was not found/.test(result.problem));
});

test('checkInstalled reports an interpreter without pyengineer', async () => {
  // A stand-in "python" that fails the import exactly like Python does.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pe-launch-'));
  const fake = path.join(dir, 'python');
  fs.writeFileSync(fake, "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'pyengineer'\" >&2\nexit 1\n", { mode: 0o755 });
  const result = await checkInstalled(launchOf({ interpreter: fake }));
  assert.ok(!result.ok);
  assert.ok(!result.ok && result.installable);
  assert.ok(!result.ok && /not installed in/.test(result.problem) && /No module named/.test(result.problem));
  fs.rmSync(dir, { recursive: true });
});

test('checkInstalled accepts an interpreter that imports pyengineer', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pe-launch-'));
  fs.mkdirSync(path.join(dir, 'pyengineer'));
  fs.writeFileSync(path.join(dir, 'pyengineer', '__init__.py'), '');
  const wrapper = path.join(dir, 'python');
  fs.writeFileSync(wrapper, `#!/bin/sh\ncd '${dir}' && exec python3 "$@"\n`, { mode: 0o755 });
  const result = await checkInstalled(launchOf({ interpreter: wrapper }));
  assert.deepEqual(result, { ok: true });
  fs.rmSync(dir, { recursive: true });
});

test('checkInstalled checks that serverPath is executable', async () => {
  const result = await checkInstalled(launchOf({ serverPath: '/nonexistent/pyengineer' }));
  assert.ok(!result.ok && /not an executable/.test(result.problem));
  assert.deepEqual(await checkInstalled(launchOf({ serverPath: '/bin/sh' })), { ok: true });
});
