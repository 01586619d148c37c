/**
 * The private environment in the editor: when the chosen interpreter has no pyengineer, run the server from the
 * environment src/bootstrap.ts makes, with a progress notification while it installs and one error message
 * (with "Show Log") when it cannot.
 */
import * as vscode from 'vscode';

import { BootstrapError, bundledWheel, ensureEnvironment } from './bootstrap';
import { Launch } from './launch';

/**
 * Whether a failed installation check falls back to the private environment. An interpreter the user named in
 * pyengineer.interpreter, or a serverPath, is their explicit choice: a problem with it is reported, not replaced.
 */
export function usesPrivateEnvironment(launch: Launch): boolean {
  return launch.origin === 'pythonExtension' || launch.origin === 'path';
}

export type PrivateLaunch = { launch: Launch } | { failed: string } | { unavailable: true };

export async function privateEnvironmentLaunch(
  context: vscode.ExtensionContext,
  chosen: Launch,
  log: (message: string) => void,
): Promise<PrivateLaunch> {
  const wheel = bundledWheel(context.extensionPath);
  if (!wheel) {
    log(`no wheel in ${context.extensionPath}/dist/wheel (a development build): no private environment`);
    return { unavailable: true };
  }
  const storage = context.globalStorageUri.fsPath;
  let progress: vscode.Progress<{ message?: string }> | undefined;
  let finishProgress: (() => void) | undefined;
  try {
    const ensured = await ensureEnvironment({
      storage,
      wheel,
      // Only the Python extension's interpreter the launch would have used (never one in an untrusted workspace).
      pythonExtensionInterpreter: chosen.origin === 'pythonExtension' ? chosen.python : undefined,
      platform: process.platform,
      log,
      onInstallStart: (title) => {
        // The notification appears only when there is something slow to wait for, not on every start.
        void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title }, (p) => {
          progress = p;
          return new Promise<void>((resolve) => (finishProgress = resolve));
        });
      },
      report: (message) => progress?.report({ message }),
    });
    return {
      launch: {
        command: ensured.python,
        args: ['-m', 'pyengineer', 'serve'],
        python: ensured.python,
        origin: 'privateEnvironment',
        origin_description: `pyengineer's private environment (${ensured.layout.envDir})`,
      },
    };
  } catch (error) {
    const message =
      error instanceof BootstrapError
        ? error.message
        : `pyengineer could not set up its private environment in ${storage}: ${String(error)}. See the log.`;
    log(message);
    return { failed: message };
  } finally {
    finishProgress?.();
  }
}
