// Builds pyengineer's wheel from this repository into dist/wheel/, for the .vsix to carry (run by
// `vscode:prepublish`, so every `npm run package` packs a wheel of the server as it is now).
// The Python that builds it: $PYENGINEER_BUILD_PYTHON, else the repository's .venv, else python3 on PATH.
// `pip wheel` builds with the project's own backend (hatchling, fetched through the user's pip configuration).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const extensionDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repo = resolve(extensionDir, '..');
const out = join(extensionDir, 'dist', 'wheel');
const venvPython = join(repo, '.venv', process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
const python = process.env.PYENGINEER_BUILD_PYTHON || (existsSync(venvPython) ? venvPython : 'python3');

if (!existsSync(join(repo, 'pyproject.toml'))) {
  throw new Error(`no pyproject.toml in ${repo}: the extension is packaged from the pyengineer repository`);
}
// Emptied first: the extension takes the one wheel it finds there.
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
execFileSync(python, ['-m', 'pip', 'wheel', '--no-deps', '--disable-pip-version-check', '-q', '-w', out, repo], {
  stdio: 'inherit',
});
const wheels = readdirSync(out).filter((name) => /^pyengineer-.+\.whl$/.test(name));
if (wheels.length !== 1) {
  throw new Error(`expected one pyengineer wheel in ${out}, found: ${readdirSync(out).join(', ') || 'nothing'}`);
}
console.log(`wheel: dist/wheel/${wheels[0]} (${Math.round(statSync(join(out, wheels[0])).size / 1024)} KiB, built with ${python})`);
