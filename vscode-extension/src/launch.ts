/**
 * How the server is started: which executable, with which arguments, chosen from the settings, the Python
 * extension's interpreter, or python3 on PATH. The choice is pure and unit-tested; the installation check runs
 * the interpreter.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export type LaunchOrigin = 'serverPath' | 'interpreter' | 'pythonExtension' | 'path' | 'privateEnvironment';

export interface Launch {
  command: string;
  args: string[];
  /** The interpreter, when the server runs as `python -m pyengineer serve`. */
  python?: string;
  origin: LaunchOrigin;
  /** Human-readable: where the choice came from. */
  origin_description: string;
}

export interface LaunchInputs {
  serverPath: string | undefined;
  interpreter: string | undefined;
  /** The interpreter selected in the Python extension, when it is installed and trusted to be used. */
  pythonExtensionInterpreter: string | undefined;
  trusted: boolean;
  workspaceFolders: readonly string[];
  platform: NodeJS.Platform;
  home: string;
}

export type LaunchChoice = { launch: Launch } | { refused: string };

/** Expands `~`, `${userHome}` and `${workspaceFolder}` in a path setting. */
export function expandPath(value: string, workspaceFolders: readonly string[], home: string): string {
  let result = value.trim();
  if (result === '~' || result.startsWith('~/')) {
    result = home + result.slice(1);
  }
  result = result.replace(/\$\{userHome\}/g, home);
  if (workspaceFolders.length > 0) {
    result = result.replace(/\$\{workspaceFolder\}/g, workspaceFolders[0]);
  }
  return result;
}

function isInside(file: string, folder: string): boolean {
  const relative = path.relative(folder, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/** Decide how to start the server. In an untrusted workspace nothing inside the workspace is executed. */
export function chooseLaunch(inputs: LaunchInputs): LaunchChoice {
  const expand = (value: string): string => expandPath(value, inputs.workspaceFolders, inputs.home);
  const insideWorkspace = (file: string): boolean =>
    inputs.workspaceFolders.some((folder) => isInside(path.resolve(folder, file), folder));
  const untrustedRefusal = (setting: string, file: string): LaunchChoice => ({
    refused:
      `${setting} points inside this untrusted workspace (${file}). pyengineer does not run programs from a ` +
      'workspace you have not trusted; trust the workspace or choose an executable outside it.',
  });

  if (inputs.serverPath && inputs.serverPath.trim() !== '') {
    const command = expand(inputs.serverPath);
    if (!inputs.trusted && insideWorkspace(command)) {
      return untrustedRefusal('pyengineer.serverPath', command);
    }
    return {
      launch: { command, args: ['serve'], origin: 'serverPath', origin_description: 'the pyengineer.serverPath setting' },
    };
  }
  if (inputs.interpreter && inputs.interpreter.trim() !== '') {
    const python = expand(inputs.interpreter);
    if (!inputs.trusted && insideWorkspace(python)) {
      return untrustedRefusal('pyengineer.interpreter', python);
    }
    return {
      launch: {
        command: python,
        args: ['-m', 'pyengineer', 'serve'],
        python,
        origin: 'interpreter',
        origin_description: 'the pyengineer.interpreter setting',
      },
    };
  }
  if (inputs.trusted && inputs.pythonExtensionInterpreter) {
    const python = inputs.pythonExtensionInterpreter;
    return {
      launch: {
        command: python,
        args: ['-m', 'pyengineer', 'serve'],
        python,
        origin: 'pythonExtension',
        origin_description: 'the interpreter selected in the Python extension',
      },
    };
  }
  const python = inputs.platform === 'win32' ? 'python' : 'python3';
  return {
    launch: {
      command: python,
      args: ['-m', 'pyengineer', 'serve'],
      python,
      origin: 'path',
      origin_description: `${python} on PATH`,
    },
  };
}

/** Where pyengineer is installed from: it is not on PyPI yet, so `pip install pyengineer` would find nothing. */
export const INSTALL_SOURCE = 'git+https://github.com/pyengineer/pyengineer';

/** The command a user runs to install pyengineer for this launch (needs git; a clone works too: see the README). */
export function installCommand(launch: Launch): string {
  const python = launch.python ?? 'python3';
  const quoted = /[\s"'$`]/.test(python) ? `"${python.replace(/(["\\$`])/g, '\\$1')}"` : python;
  return `${quoted} -m pip install ${INSTALL_SOURCE}`;
}

export type InstallCheck = { ok: true } | { ok: false; problem: string; installable: boolean };

/** Checks that the chosen server can start: the executable exists and, for an interpreter, imports pyengineer. */
export async function checkInstalled(launch: Launch, timeoutMs = 30_000): Promise<InstallCheck> {
  if (launch.origin === 'serverPath') {
    try {
      await fs.promises.access(launch.command, fs.constants.X_OK);
      return { ok: true };
    } catch {
      return {
        ok: false,
        problem: `pyengineer.serverPath is set to ${launch.command}, which is not an executable file.`,
        installable: false,
      };
    }
  }
  const python = launch.python ?? launch.command;
  return new Promise((resolve) => {
    execFile(python, ['-c', 'import pyengineer'], { timeout: timeoutMs, windowsHide: true }, (error, _stdout, stderr) => {
      if (!error) {
        resolve({ ok: true });
        return;
      }
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EACCES') {
        resolve({
          ok: false,
          problem: `The Python interpreter ${python} (from ${launch.origin_description}) was not found.`,
          installable: false,
        });
        return;
      }
      const detail = String(stderr).trim().split('\n').pop() ?? '';
      resolve({
        ok: false,
        problem: `pyengineer is not installed in ${python} (from ${launch.origin_description})${detail ? `: ${detail}` : '.'}`,
        installable: true,
      });
    });
  });
}

export function defaultHome(): string {
  return os.homedir();
}
