/**
 * The private environment: when no pyengineer is configured or importable, the extension installs the wheel
 * it carries (dist/wheel/*.whl, built from the repository when the .vsix is packaged) into a virtual
 * environment of its own under its global storage, and runs the server from there.
 *
 * This module has no `vscode` import, so that its logic runs in the unit tests; src/privateEnv.ts puts it in
 * the editor (progress notification, the one error message).
 *
 * Layout under the storage folder:
 *   envs/<first 16 hex digits of the wheel's sha256>/   the virtual environment
 *   envs/<id>/pyengineer-installed.json                 written only after the install succeeded
 *   envs/<id>.lock/                                     held (mkdir is atomic) while one window installs
 * A new extension version carries a different wheel, hence a new folder; the old ones are removed once the new
 * one works. A folder without the marker is a half-finished install and is made again.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const MARKER_NAME = 'pyengineer-installed.json';
export const MIN_PYTHON: readonly [number, number] = [3, 11];
/** A lock older than this belongs to a window that died while installing. */
const STALE_LOCK_MS = 15 * 60_000;
const RESTART_HINT = 'then run "pyengineer: Restart Server"';

export type Installer = 'uv' | 'pip';

export interface EnvLayout {
  id: string;
  envDir: string;
  python: string;
  marker: string;
  lock: string;
}

export interface Marker {
  wheel: string;
  sha256: string;
  python: string;
  pythonVersion: string;
  installer: Installer;
  installedAt: string;
}

export interface PythonProbe {
  /** The command as given (the Python extension's interpreter, or a name looked up on PATH). */
  command: string;
  /** Where the candidate came from, for messages. */
  from: string;
  executable: string;
  version: [number, number, number];
  /** `venv` and `ensurepip` importable: `python -m venv` can make an environment with pip in it. */
  canVenv: boolean;
}

export type ProbeResult = { probe: PythonProbe } | { command: string; from: string; problem: string };

export interface Logger {
  (line: string): void;
}

/** The failure shown to the user: one sentence that says what went wrong and the exact fix. */
export class BootstrapError extends Error {}

/** The wheel the .vsix carries, or undefined in a development build that was not packaged. */
export function bundledWheel(extensionPath: string): string | undefined {
  const folder = path.join(extensionPath, 'dist', 'wheel');
  let names: string[];
  try {
    names = fs.readdirSync(folder).filter((name) => /^pyengineer-.+\.whl$/.test(name));
  } catch {
    return undefined;
  }
  // The packaging script empties the folder first: exactly one wheel. Sorted, in case a stray one is left.
  return names.length > 0 ? path.join(folder, names.sort().at(-1) as string) : undefined;
}

export async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

export function envLayout(storage: string, sha256: string, platform: NodeJS.Platform): EnvLayout {
  const id = sha256.slice(0, 16);
  const envDir = path.join(storage, 'envs', id);
  const python = platform === 'win32' ? path.join(envDir, 'Scripts', 'python.exe') : path.join(envDir, 'bin', 'python');
  return { id, envDir, python, marker: path.join(envDir, MARKER_NAME), lock: `${envDir}.lock` };
}

export function readMarker(file: string): Marker | undefined {
  try {
    const data = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Marker>;
    if (typeof data.sha256 !== 'string' || typeof data.wheel !== 'string' || typeof data.python !== 'string') {
      return undefined;
    }
    return data as Marker;
  } catch {
    return undefined;
  }
}

/** The environment is usable: the install finished for this very wheel and its interpreter is still there. */
export function isReady(layout: EnvLayout, sha256: string): boolean {
  const marker = readMarker(layout.marker);
  return marker !== undefined && marker.sha256 === sha256 && fs.existsSync(layout.python);
}

const PROBE_SCRIPT =
  'import sys, json, importlib.util as u; print(json.dumps({"version": list(sys.version_info[:3]), ' +
  '"executable": sys.executable, "venv": u.find_spec("venv") is not None and u.find_spec("ensurepip") is not None}))';

function run(command: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string; error?: { code?: unknown; message: string } }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, windowsHide: true }, (error, stdout, stderr) => {
      resolve({ stdout: String(stdout), stderr: String(stderr), error: error ?? undefined });
    });
  });
}

/** Runs a candidate interpreter and reports its version and whether it can make a virtual environment. */
export async function probePython(command: string, from: string, timeoutMs = 20_000): Promise<ProbeResult> {
  const { stdout, stderr, error } = await run(command, ['-c', PROBE_SCRIPT], timeoutMs);
  if (error && (error.code === 'ENOENT' || error.code === 'EACCES')) {
    return { command, from, problem: 'not found' };
  }
  try {
    const data = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { version: number[]; executable: string; venv: boolean };
    const [major, minor, micro] = data.version;
    return { probe: { command, from, executable: data.executable || command, version: [major, minor, micro], canVenv: data.venv } };
  } catch {
    const detail = (stderr.trim().split('\n').at(-1) ?? '') || (error ? error.message : 'no answer');
    return { command, from, problem: `does not run (${detail})` };
  }
}

export function versionText(version: readonly number[]): string {
  return version.join('.');
}

export function isSuitable(probe: PythonProbe): boolean {
  const [major, minor] = probe.version;
  return major > MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor >= MIN_PYTHON[1]);
}

/** The interpreters tried, in order: the Python extension's (when given), then the usual names on PATH. */
export function pythonCandidates(pythonExtensionInterpreter: string | undefined, platform: NodeJS.Platform): { command: string; from: string }[] {
  const candidates: { command: string; from: string }[] = [];
  if (pythonExtensionInterpreter) {
    candidates.push({ command: pythonExtensionInterpreter, from: 'the interpreter selected in the Python extension' });
  }
  const names = platform === 'win32' ? ['python', 'python3'] : ['python3', 'python3.14', 'python3.13', 'python3.12', 'python3.11'];
  for (const name of names) {
    candidates.push({ command: name, from: `${name} on PATH` });
  }
  return candidates;
}

export type PythonChoice = { probe: PythonProbe; installer: Installer } | { problem: string };

/**
 * The first suitable interpreter. With uv any Python >= 3.11 will do; without it, the interpreter must have
 * `venv` and `ensurepip` (Debian and Ubuntu ship them separately, as python3.X-venv).
 */
export function choosePython(results: readonly ProbeResult[], haveUv: boolean, platform: NodeJS.Platform): PythonChoice {
  const suitable = results.flatMap((r) => ('probe' in r && isSuitable(r.probe) ? [r.probe] : []));
  const usable = haveUv ? suitable : suitable.filter((p) => p.canVenv);
  if (usable.length > 0) {
    return { probe: usable[0], installer: haveUv ? 'uv' : 'pip' };
  }
  if (suitable.length > 0) {
    const p = suitable[0];
    const [major, minor] = p.version;
    const apt = platform === 'linux' ? ` (on Debian or Ubuntu: sudo apt install python${major}.${minor}-venv)` : '';
    return {
      problem:
        `pyengineer could not make its Python environment: ${p.executable} (${p.from}) has no venv module. ` +
        `Install it${apt}, or install uv, ${RESTART_HINT}.`,
    };
  }
  const seen = results
    .filter((r) => !('problem' in r && r.problem === 'not found'))
    .map((r) => ('probe' in r ? `${r.probe.from} is ${versionText(r.probe.version)}` : `${r.from} ${r.problem}`));
  const found = seen.length > 0 ? seen.join('; ') : 'no python3 on PATH';
  const where = platform === 'win32' ? 'from python.org' : 'from python.org or your package manager';
  return {
    problem:
      `pyengineer needs Python ${MIN_PYTHON.join('.')} or newer to run its server and found none (${found}). ` +
      `Install Python ${MIN_PYTHON.join('.')}+ ${where} and put it on PATH or select it in the Python extension, ` +
      `or set pyengineer.serverPath to an installed pyengineer, ${RESTART_HINT}.`,
  };
}

export interface Step {
  command: string;
  args: string[];
}

/**
 * The commands that make the environment and install the wheel with its dependencies. Nothing here names an
 * index: pip reads the user's pip.conf and PIP_* variables itself, uv its uv.toml and UV_* variables.
 */
export function installSteps(installer: Installer, basePython: string, layout: EnvLayout, wheel: string, uv = 'uv'): Step[] {
  if (installer === 'uv') {
    return [
      { command: uv, args: ['venv', '--quiet', '--python', basePython, layout.envDir] },
      { command: uv, args: ['pip', 'install', '--python', layout.python, wheel] },
    ];
  }
  return [
    { command: basePython, args: ['-m', 'venv', layout.envDir] },
    // --no-compile: byte-compiling every dependency is a third of the install's time; Python compiles the
    // modules the server imports on its first start instead, into this (writable) environment. uv does the same.
    { command: layout.python, args: ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-compile', wheel] },
  ];
}

/** Runs one step, its output going line by line to the log; resolves with the last lines of its output. */
export function runStep(step: Step, log: Logger, timeoutMs: number): Promise<{ ok: boolean; tail: string }> {
  return new Promise((resolve) => {
    log(`$ ${[step.command, ...step.args].join(' ')}`);
    const lines: string[] = [];
    let child;
    try {
      child = spawn(step.command, step.args, { windowsHide: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PIP_NO_INPUT: '1' } });
    } catch (error) {
      resolve({ ok: false, tail: String(error) });
      return;
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const collect = (chunk: Buffer): void => {
      for (const line of chunk.toString().split(/\r?\n/)) {
        if (line.trim() !== '') {
          log(line);
          lines.push(line);
          if (lines.length > 20) {
            lines.shift();
          }
        }
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, tail: error.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ending = signal ? `stopped by ${signal} after ${Math.round(timeoutMs / 1000)} s` : `exit code ${String(code)}`;
      if (code !== 0) {
        log(`(${ending})`);
      }
      resolve({ ok: code === 0, tail: lines.slice(-3).join(' ') || ending });
    });
  });
}

async function commandExists(command: string): Promise<boolean> {
  const { error } = await run(command, ['--version'], 10_000);
  return !error;
}

function lockHolder(lock: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(path.join(lock, 'pid'), 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined; // not written yet, or another machine's lock on a shared home: wait for it to age
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock folder; waits while another window holds it, and takes over a stale one. */
async function withLock<T>(lock: string, log: Logger, work: () => Promise<T>, isDone: () => boolean, pollMs = 1000): Promise<T | undefined> {
  fs.mkdirSync(path.dirname(lock), { recursive: true });
  let said = false;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      // Who holds it: a window reloaded mid-install leaves the folder behind, and its process is gone.
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw error;
      }
    }
    if (isDone()) {
      return undefined;
    }
    let age = 0;
    try {
      age = Date.now() - fs.statSync(lock).mtimeMs;
    } catch {
      continue; // released between mkdir and stat
    }
    const holder = lockHolder(lock);
    if (age > STALE_LOCK_MS || (holder !== undefined && !isAlive(holder))) {
      log(`removing a stale lock ${lock} (${holder !== undefined && !isAlive(holder) ? `process ${holder} is gone` : `${Math.round(age / 60_000)} minutes old`})`);
      fs.rmSync(lock, { recursive: true, force: true });
      continue;
    }
    if (!said) {
      log(`another window is installing the environment (${lock}); waiting for it`);
      said = true;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  try {
    return await work();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** Removes environments made for other wheels (older extension versions) and half-finished folders. */
export function removeOtherEnvironments(storage: string, keep: EnvLayout, log: Logger): void {
  const envs = path.join(storage, 'envs');
  let names: string[] = [];
  try {
    names = fs.readdirSync(envs);
  } catch {
    return;
  }
  for (const name of names) {
    if (name === keep.id || name.endsWith('.lock') || names.includes(`${name}.lock`)) {
      continue;
    }
    log(`removing the environment of another extension version: ${path.join(envs, name)}`);
    fs.rmSync(path.join(envs, name), { recursive: true, force: true });
  }
}

export interface EnsureOptions {
  storage: string;
  wheel: string;
  pythonExtensionInterpreter: string | undefined;
  platform: NodeJS.Platform;
  log: Logger;
  /** Told before the slow part starts, so the caller can show progress only when there is any. */
  onInstallStart?: (message: string) => void;
  report?: (message: string) => void;
  /** Overridable for the tests. */
  candidates?: { command: string; from: string }[];
  uv?: string | null;
  stepTimeoutMs?: number;
}

export interface Ensured {
  python: string;
  layout: EnvLayout;
  installedNow: boolean;
}

/** Makes (or reuses) the private environment for this wheel; throws BootstrapError with the message to show. */
export async function ensureEnvironment(options: EnsureOptions): Promise<Ensured> {
  const { storage, wheel, log, platform } = options;
  const sha256 = await sha256Of(wheel);
  const layout = envLayout(storage, sha256, platform);
  if (isReady(layout, sha256)) {
    log(`using the private environment ${layout.envDir}`);
    return { python: layout.python, layout, installedNow: false };
  }
  const installed = await withLock(
    layout.lock,
    log,
    async () => {
      if (isReady(layout, sha256)) {
        return false; // another window finished while we waited for the lock
      }
      await install(options, layout, sha256);
      return true;
    },
    () => isReady(layout, sha256),
  );
  if (!isReady(layout, sha256)) {
    throw new BootstrapError(
      `pyengineer could not install its server into ${layout.envDir}: another window's install did not finish. ` +
        `See the log, ${RESTART_HINT}.`,
    );
  }
  try {
    removeOtherEnvironments(storage, layout, log);
  } catch (error) {
    log(`could not remove an old environment: ${String(error)}`);
  }
  return { python: layout.python, layout, installedNow: installed === true };
}

/** Runs the steps of one installer; undefined when they all succeeded, else the message for the user. */
async function runSteps(steps: Step[], installer: Installer, log: Logger, report: (message: string) => void, timeout: number): Promise<string | undefined> {
  const labels = ['creating the environment…', 'installing pyengineer and its dependencies…'];
  for (const [index, step] of steps.entries()) {
    report(labels[index] ?? '');
    const result = await runStep(step, log, timeout);
    if (!result.ok) {
      const tool = installer === 'uv' ? 'uv' : index === 0 ? 'python -m venv' : 'pip';
      const config = installer === 'uv' ? 'uv.toml, UV_INDEX_URL' : 'pip.conf, PIP_INDEX_URL';
      return (
        `pyengineer could not install its server: ${tool} failed (${result.tail.slice(0, 300)}). Check the network ` +
        `and your ${installer} configuration (${config}) in the log, ${RESTART_HINT}; or set ` +
        'pyengineer.serverPath to an installed pyengineer.'
      );
    }
  }
  return undefined;
}

async function install(options: EnsureOptions, layout: EnvLayout, sha256: string): Promise<void> {
  const { wheel, log, platform } = options;
  const report = options.report ?? (() => undefined);
  if (fs.existsSync(layout.envDir)) {
    // No marker for this wheel: a half-finished install (the window closed, the network dropped). Start over.
    log(`removing the unfinished environment ${layout.envDir}`);
    fs.rmSync(layout.envDir, { recursive: true, force: true });
  }
  const uv = options.uv === undefined ? ((await commandExists('uv')) ? 'uv' : null) : options.uv;
  const candidates = options.candidates ?? pythonCandidates(options.pythonExtensionInterpreter, platform);
  const results: ProbeResult[] = [];
  let choice: PythonChoice | undefined;
  for (const candidate of candidates) {
    const result = await probePython(candidate.command, candidate.from);
    results.push(result);
    log('probe' in result
      ? `${candidate.from}: ${result.probe.executable}, Python ${versionText(result.probe.version)}${result.probe.canVenv ? '' : ', no venv module'}`
      : `${candidate.from}: ${result.problem}`);
    choice = choosePython(results, uv !== null, platform);
    if ('probe' in choice) {
      break;
    }
  }
  choice ??= choosePython(results, uv !== null, platform);
  if ('problem' in choice) {
    throw new BootstrapError(choice.problem);
  }
  const { probe, installer } = choice;
  const first = `pyengineer: installing its server into a private environment (Python ${versionText(probe.version)}, ${installer})`;
  log(`${first}: ${layout.envDir}`);
  options.onInstallStart?.(first);
  const timeout = options.stepTimeoutMs ?? 10 * 60_000;
  // uv reads its own configuration, not pip's: when uv cannot install (an index only pip.conf names, say), pip
  // gets its turn before the user hears of a failure.
  const attempts: Installer[] = installer === 'uv' && probe.canVenv ? ['uv', 'pip'] : [installer];
  let used: Installer = installer;
  for (const [attempt, tool] of attempts.entries()) {
    used = tool;
    const failure = await runSteps(installSteps(tool, probe.executable, layout, wheel, uv ?? 'uv'), tool, log, report, timeout);
    if (failure === undefined) {
      break;
    }
    if (attempt + 1 < attempts.length) {
      log(`${failure}; trying python -m venv and pip instead`);
      fs.rmSync(layout.envDir, { recursive: true, force: true });
      continue;
    }
    throw new BootstrapError(failure);
  }
  report('checking the installation…');
  const check = await runStep({ command: layout.python, args: ['-c', 'import pyengineer.entry'] }, log, 60_000);
  if (!check.ok) {
    throw new BootstrapError(
      `pyengineer installed its server but cannot import it (${check.tail.slice(0, 300)}). See the log, ${RESTART_HINT}.`,
    );
  }
  const marker: Marker = {
    wheel: path.basename(wheel),
    sha256,
    python: probe.executable,
    pythonVersion: versionText(probe.version),
    installer: used,
    installedAt: new Date().toISOString(),
  };
  // Written last, and atomically: its presence means the environment is complete.
  fs.writeFileSync(`${layout.marker}.tmp`, JSON.stringify(marker, null, 2));
  fs.renameSync(`${layout.marker}.tmp`, layout.marker);
  log(`private environment ready: ${layout.envDir}`);
}
