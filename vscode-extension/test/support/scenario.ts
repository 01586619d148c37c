/**
 * The scenario every real-client test uses: a real git repository on `main` with one commit, then an
 * uncommitted edit to model.py that imports torch.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const COMMITTED_MODEL = 'def train():\n    return 1\n';
export const EDITED_MODEL = 'import torch\n\n\ndef train():\n    return torch.zeros(1)\n';

export interface Scenario {
  /** Temporary folder holding the repo (and anything else the test wants to keep beside it). */
  base: string;
  repo: string;
  modelPath: string;
  modelUri: string;
  cleanup(): void;
}

export function git(repo: string, ...args: string[]): string {
  return execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

export function currentBranch(repo: string): string {
  return git(repo, 'rev-parse', '--abbrev-ref', 'HEAD');
}

export function createScenario(prefix = 'pyengineer-e2e-'): Scenario {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)));
  const repo = path.join(base, 'demo');
  fs.mkdirSync(repo);
  execFileSync('git', ['init', '-q', '-b', 'main', repo]);
  git(repo, 'config', 'user.name', 'pyengineer test');
  git(repo, 'config', 'user.email', 'test@pyengineer.invalid');
  git(repo, 'config', 'commit.gpgsign', 'false');
  fs.writeFileSync(path.join(repo, 'pyproject.toml'), '[project]\nname = "demo"\nversion = "0.1.0"\n');
  const modelPath = path.join(repo, 'model.py');
  fs.writeFileSync(modelPath, COMMITTED_MODEL);
  git(repo, 'add', '.');
  git(repo, 'commit', '-q', '-m', 'initial');
  fs.writeFileSync(modelPath, EDITED_MODEL);
  return {
    base,
    repo,
    modelPath,
    modelUri: `file://${modelPath}`,
    cleanup: () => fs.rmSync(base, { recursive: true, force: true }),
  };
}

/** The repository root (vscode-extension's parent), from the bundled test's location out/test/<kind>/. */
export function projectRoot(): string {
  return path.resolve(__dirname, '..', '..', '..', '..');
}

/** The pyengineer executable under test: $PYENGINEER_SERVER, else the project's .venv. */
export function serverExecutable(): string {
  const fromEnv = process.env.PYENGINEER_SERVER;
  const candidate = fromEnv && fromEnv !== '' ? fromEnv : path.join(projectRoot(), '.venv', 'bin', 'pyengineer');
  if (!fs.existsSync(candidate)) {
    throw new Error(`pyengineer server not found at ${candidate}; install it (pip install -e .) or set PYENGINEER_SERVER`);
  }
  return candidate;
}

/**
 * Polls `check` until it returns a value other than undefined, or fails after `timeoutMs` saying `what`, with
 * `details()` (evaluated at the time of failure) appended.
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  check: () => T | undefined | Promise<T | undefined>,
  details?: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) {
        return value;
      }
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const extra = details ? details() : '';
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}${extra}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
