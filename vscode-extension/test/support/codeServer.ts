/**
 * One code-server session for an end-to-end test: the .vsix installed with --install-extension into the given
 * user-data and extensions folders, code-server started with the given environment, headless Chromium opened on
 * a folder, and the extension's test-hooks file to read. Stopping it kills code-server and what it started.
 */
import assert from 'node:assert/strict';
import { ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';

import { waitFor } from './scenario';

const execFileAsync = promisify(execFile);

/** What the extension's test hooks (src/testHooks.ts) write. */
export interface HookState {
  clientState: string | null;
  statusBar: string | null;
  status: unknown;
  errors: string[];
  diagnostics: { uri: string; items: { code: string | null; message: string }[] }[];
}

export const QUIET_SETTINGS: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'chat.disableAIFeatures': true,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'update.mode': 'none',
  'git.openRepositoryInParentFolders': 'never',
};

export interface SessionOptions {
  codeServer: string;
  vsix: string;
  userDataDir: string;
  extensionsDir: string;
  hooksFile: string;
  /** The whole environment code-server (and so the extension host and the server) runs with. */
  env: NodeJS.ProcessEnv;
  /** Install the .vsix first (a fresh extensions folder); false to reuse what an earlier session installed. */
  install: boolean;
}

/** Every file below `dir` whose name passes `accept`. */
export function filesUnder(dir: string, accept: (name: string) => boolean): string[] {
  const found: string[] = [];
  for (const entry of fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : []) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      found.push(...filesUnder(full, accept));
    } else if (accept(entry.name)) {
      found.push(full);
    }
  }
  return found;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

let signalsHandled = false;

export class CodeServerSession {
  private process: ChildProcess | undefined;
  private log = '';
  private browser: Browser | undefined;
  page!: Page;
  port = 0;

  constructor(readonly options: SessionOptions) {}

  readHooks(): HookState | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.options.hooksFile, 'utf8')) as HookState;
    } catch {
      return undefined;
    }
  }

  /** The pyengineer and extension-host logs VS Code wrote, for failure messages. */
  logTail = (): string => {
    const found = filesUnder(path.join(this.options.userDataDir, 'logs'), (name) => /pyengineer|exthost/i.test(name));
    const tails = found.map((file) => `--- ${file}\n${fs.readFileSync(file, 'utf8').slice(-3000)}`);
    return `\nhooks: ${JSON.stringify(this.readHooks())}\n${tails.join('\n')}\n--- code-server\n${this.log.slice(-1500)}`;
  };

  /**
   * Our output channel's log as VS Code wrote it: of every start in this user-data folder, or of the newest only
   * (VS Code makes one logs/<date-time>/ folder per start; the names sort by time).
   */
  outputLog(newest = false): string {
    const found = filesUnder(path.join(this.options.userDataDir, 'logs'), (name) => /pyengineer/i.test(name)).sort();
    return (newest ? found.slice(-1) : found).map((file) => fs.readFileSync(file, 'utf8')).join('\n');
  }

  async start(): Promise<void> {
    const { codeServer, vsix, userDataDir, extensionsDir, env } = this.options;
    const common = ['--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];
    if (this.options.install) {
      const install = await execFileAsync(codeServer, [...common, '--install-extension', vsix], { env, timeout: 120_000 });
      assert.match(install.stdout + install.stderr, /successfully installed/i, install.stdout + install.stderr);
    }
    this.port = await freePort();
    const child = spawn(
      codeServer,
      [
        ...common,
        '--auth', 'none',
        '--disable-telemetry',
        '--disable-update-check',
        '--disable-workspace-trust',
        '--disable-getting-started-override',
        '--bind-addr', `127.0.0.1:${this.port}`,
      ],
      { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.process = child;
    const pid = child.pid;
    // If this test process is stopped early (timeout), take code-server and everything it started along.
    process.on('exit', () => {
      try {
        if (pid) {
          process.kill(-pid, 'SIGKILL');
        }
      } catch {
        // already gone
      }
    });
    if (!signalsHandled) {
      // Stopped by a signal (the step's timeout): exit, so that the 'exit' handler above runs.
      signalsHandled = true;
      for (const signal of ['SIGTERM', 'SIGINT'] as const) {
        process.on(signal, () => process.exit(1));
      }
    }
    child.stdout?.on('data', (chunk: Buffer) => (this.log += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.log += chunk.toString()));
    await waitFor(
      'code-server to listen',
      60_000,
      async () => {
        const response = await fetch(`http://127.0.0.1:${this.port}/healthz`).catch(() => undefined);
        return response?.ok ? true : undefined;
      },
      () => `\n${this.log}`,
    );
    const { chromium } = await import('playwright-core');
    this.browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    this.page = await this.browser.newPage({ viewport: { width: 1280, height: 800 } });
  }

  /** Opens the folder in the workbench; resolves once the workbench is there. */
  async openFolder(folder: string): Promise<void> {
    await this.page.goto(`http://127.0.0.1:${this.port}/?folder=${encodeURIComponent(folder)}`);
    await this.page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
  }

  /** Double-clicks a file in the Explorer, as a user would, and waits for its tab. */
  async openFile(name: string): Promise<void> {
    const row = this.page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
    await row.waitFor({ state: 'visible', timeout: 60_000 });
    await row.dblclick();
    await this.page.locator(`.tab[aria-label*="${name}"]`).first().waitFor({ timeout: 30_000 });
  }

  async screenshot(file: string): Promise<void> {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await this.page?.screenshot({ path: file }).catch(() => undefined);
  }

  async stop(): Promise<void> {
    await this.browser?.close().catch(() => undefined);
    const pid = this.process?.pid;
    if (pid) {
      for (const [signal, pause] of [['SIGTERM', 1500], ['SIGKILL', 0]] as const) {
        try {
          process.kill(-pid, signal);
        } catch {
          // already gone
        }
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
    this.process = undefined;
  }
}
