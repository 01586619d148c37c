/**
 * The pyengineer VS Code extension: starts `pyengineer serve`, shows its status, and offers its commands.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ResponseError,
  RevealOutputChannelOn,
  ServerOptions,
  State,
} from 'vscode-languageclient/node';

import { Launch, checkInstalled, chooseLaunch, defaultHome, installCommand } from './launch';
import { branchNameProblem, isProtectedBranch } from './refName';
import { changeNeedsRestart, parseJsonc, shadowedMessage, shadowedUserSettings, toServerSettings } from './settings';
import { AskResult, askOutcome } from './ask';
import { privateEnvironmentLaunch, usesPrivateEnvironment } from './privateEnv';
import { CommandResult, parseResult, resultLevel, resultText } from './results';
import { PyengineerStatus, headLabel, parseStatus, presentStatus, statusFor } from './status';
import { TestHooks } from './testHooks';

const API_KEY_SECRET = 'pyengineer.anthropicApiKey';
const STATUS_NOTIFICATION = 'pyengineer/status';
const SET_API_KEY_NOTIFICATION = 'pyengineer/setApiKey';

interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { id: string; path: string };
    resolveEnvironment(env: { id: string; path: string } | string): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
    onDidChangeActiveEnvironmentPath?: vscode.Event<unknown>;
  };
  settings?: {
    getExecutionDetails(resource?: vscode.Uri): { execCommand: string[] | undefined };
  };
}

class PyengineerExtension implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private launch: Launch | undefined;
  private readonly output: vscode.OutputChannel;
  private readonly statusItem: vscode.StatusBarItem;
  private readonly statuses = new Map<string, PyengineerStatus>();
  private readonly disposables: vscode.Disposable[] = [];
  private lifecycle: Promise<void> = Promise.resolve();
  private pythonWatch: vscode.Disposable | undefined;
  /** The key the running server has (undefined: none sent yet), so that one change is sent, and logged, once. */
  private sentApiKey: string | null | undefined;
  /** The shadowed-settings message last shown in this window: each distinct one is said once. */
  private shadowReported = '';
  readonly hooks: TestHooks | undefined;

  constructor(private readonly context: vscode.ExtensionContext) {
    this.output = vscode.window.createOutputChannel('pyengineer');
    this.statusItem = vscode.window.createStatusBarItem('pyengineer.status', vscode.StatusBarAlignment.Left, 50);
    this.statusItem.name = 'pyengineer';
    this.statusItem.command = 'pyengineer.showProjectContext';
    this.hooks = TestHooks.fromEnvironment(this.output);
    this.disposables.push(this.output, this.statusItem);
  }

  dispose(): void {
    this.pythonWatch?.dispose();
    for (const d of this.disposables) {
      d.dispose();
    }
  }

  log(message: string): void {
    this.output.appendLine(`[client ${new Date().toISOString()}] ${message}`);
  }

  /** Serializes starts and stops so that a restart never races another. */
  private enqueue(work: () => Promise<void>): Promise<void> {
    this.lifecycle = this.lifecycle.then(work, work).catch((error: unknown) => {
      this.log(`error: ${String(error)}`);
    });
    return this.lifecycle;
  }

  start(): Promise<void> {
    return this.enqueue(() => this.doStart());
  }

  restart(reason: string): Promise<void> {
    return this.enqueue(async () => {
      this.log(`restarting the server: ${reason}`);
      await this.doStop();
      await this.doStart();
    });
  }

  stop(): Promise<void> {
    return this.enqueue(() => this.doStop());
  }

  private async doStop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.statuses.clear();
    if (client) {
      try {
        await client.stop(3000);
      } catch (error) {
        this.log(`stopping the server failed: ${String(error)}`);
      }
    }
    this.pythonWatch?.dispose();
    this.pythonWatch = undefined;
  }

  private workspaceFolderPaths(): string[] {
    return (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
  }

  private async pythonExtensionInterpreter(): Promise<string | undefined> {
    const extension = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
    if (!extension) {
      return undefined;
    }
    try {
      const api = extension.isActive ? extension.exports : await extension.activate();
      const resource = vscode.workspace.workspaceFolders?.[0]?.uri;
      if (api.environments) {
        const active = api.environments.getActiveEnvironmentPath(resource);
        const resolved = await api.environments.resolveEnvironment(active);
        this.watchPythonExtension(api);
        return resolved?.executable.uri?.fsPath ?? active.path;
      }
      const exec = api.settings?.getExecutionDetails(resource).execCommand;
      return exec && exec.length === 1 ? exec[0] : undefined;
    } catch (error) {
      this.log(`could not ask the Python extension for its interpreter: ${String(error)}`);
      return undefined;
    }
  }

  private watchPythonExtension(api: PythonExtensionApi): void {
    if (this.pythonWatch || !api.environments?.onDidChangeActiveEnvironmentPath) {
      return;
    }
    this.pythonWatch = api.environments.onDidChangeActiveEnvironmentPath(() => {
      if (this.launch?.origin === 'pythonExtension') {
        void this.restart('the Python extension selected another interpreter');
      }
    });
  }

  /**
   * serverPath and interpreter are machine settings: in a remote window VS Code reads them only from the Remote
   * settings and drops a User value without a word. Say so once per window (on each start that finds a new
   * case), with the fix. The User settings file
   * is read where VS Code keeps it beside the extension's global storage (code-server keeps it on the server);
   * where it is out of reach (the local side of Remote-SSH) there is nothing to compare and nothing is said.
   */
  private async reportShadowedSettings(config: vscode.WorkspaceConfiguration): Promise<void> {
    const file = vscode.Uri.joinPath(this.context.globalStorageUri, '..', '..', 'settings.json');
    let text: string;
    try {
      text = new TextDecoder().decode(await vscode.workspace.fs.readFile(file));
    } catch (error) {
      this.log(`not checking for ignored User settings: cannot read ${file.toString()}: ${String(error)}`);
      return;
    }
    const shadowed = shadowedUserSettings(parseJsonc(text), (key) => config.inspect(key));
    if (shadowed.length === 0) {
      return;
    }
    const message = shadowedMessage(shadowed);
    if (message === this.shadowReported) {
      return;
    }
    this.shadowReported = message;
    this.log(message);
    const pick = await this.notify('warning', message, 'Open Remote Settings');
    if (pick) {
      await vscode.commands.executeCommand('workbench.action.openRemoteSettings');
    }
  }

  private async doStart(): Promise<void> {
    const config = vscode.workspace.getConfiguration('pyengineer');
    void this.reportShadowedSettings(config);
    const trusted = vscode.workspace.isTrusted;
    const serverPath = config.get<string>('serverPath');
    const interpreter = config.get<string>('interpreter');
    const needPythonExtension = !serverPath?.trim() && !interpreter?.trim() && trusted;
    const choice = chooseLaunch({
      serverPath,
      interpreter,
      pythonExtensionInterpreter: needPythonExtension ? await this.pythonExtensionInterpreter() : undefined,
      trusted,
      workspaceFolders: this.workspaceFolderPaths(),
      platform: process.platform,
      home: defaultHome(),
    });
    if ('refused' in choice) {
      this.showStopped('not started');
      this.log(choice.refused);
      this.hooks?.record('error', choice.refused);
      void this.notify('error', choice.refused, 'Open Settings').then((pick) => {
        if (pick) {
          void vscode.commands.executeCommand('workbench.action.openSettings', 'pyengineer.');
        }
      });
      return;
    }
    let launch = choice.launch;
    this.launch = launch;
    this.log(`starting ${[launch.command, ...launch.args].join(' ')} (from ${launch.origin_description})`);
    this.showStopped('starting…');

    let installed = await checkInstalled(launch);
    if (!installed.ok && usesPrivateEnvironment(launch)) {
      // No pyengineer where we looked: run the wheel this extension carries from its own environment (bootstrap.ts).
      this.log(`${installed.problem} Using the private environment.`);
      const own = await privateEnvironmentLaunch(this.context, launch, (line) => this.log(line));
      if ('failed' in own) {
        this.showStopped('not installed');
        this.hooks?.record('error', own.failed);
        void vscode.window.showErrorMessage(own.failed, 'Show Log').then((pick) => pick && this.output.show());
        return;
      }
      if ('launch' in own) {
        launch = own.launch;
        this.launch = launch;
        installed = { ok: true };
        this.log(`starting ${[launch.command, ...launch.args].join(' ')} (from ${launch.origin_description})`);
      }
    }
    if (!installed.ok) {
      this.log(installed.problem);
      this.showStopped('not installed');
      this.hooks?.record('error', installed.problem);
      void this.explainNotInstalled(launch, installed.problem, installed.installable);
      return;
    }

    const apiKey = await this.context.secrets.get(API_KEY_SECRET);
    const cwd = this.workspaceFolderPaths()[0];
    const serverOptions: ServerOptions = {
      command: launch.command,
      args: launch.args,
      options: { cwd, env: { ...process.env } },
    };
    // `editor` tells the server whose commands and settings to name in its advice (lsp/hints.py).
    const initializationOptions: Record<string, unknown> = { settings: toServerSettings(config), trusted, editor: 'vscode' };
    if (apiKey) {
      initializationOptions.apiKey = apiKey;
    }
    this.sentApiKey = apiKey ?? null;
    const clientOptions: LanguageClientOptions = {
      // Python files, and the Python cells of Jupyter notebooks: the server syncs those notebooks as notebook
      // documents (its notebookDocumentSync) and answers code actions and hovers for their cells.
      documentSelector: [
        { scheme: 'file', language: 'python' },
        { notebook: 'jupyter-notebook', language: 'python' },
      ],
      synchronize: { configurationSection: 'pyengineer' },
      initializationOptions,
      outputChannel: this.output,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      middleware: {
        workspace: {
          configuration: async (params, token, next) => {
            const answer = await next(params, token);
            if (!Array.isArray(answer)) {
              return answer;
            }
            // Answer the "pyengineer" section with the server's settings object, without client-only keys.
            return params.items.map((item, index) => {
              if (item.section !== 'pyengineer') {
                return answer[index];
              }
              const scope = item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined;
              return toServerSettings(vscode.workspace.getConfiguration('pyengineer', scope));
            });
          },
        },
      },
    };
    const client = new LanguageClient('pyengineer', 'pyengineer', serverOptions, clientOptions);
    client.onNotification(STATUS_NOTIFICATION, (params: unknown) => this.onStatus(params));
    client.onDidChangeState((event) => {
      this.hooks?.record('clientState', State[event.newState]);
      if (event.newState === State.Stopped && this.client === client) {
        this.showStopped('stopped');
      }
    });
    this.client = client;
    try {
      await client.start();
      this.log('server started');
      if (this.statuses.size === 0) {
        this.showStopped('running');
      }
    } catch (error) {
      const message = `pyengineer: the server failed to start: ${error instanceof Error ? error.message : String(error)}`;
      this.log(message);
      this.showStopped('failed');
      this.hooks?.record('error', message);
      void this.notify('error', message, 'Show Log').then((pick) => {
        if (pick) {
          this.output.show();
        }
      });
    }
  }

  private async explainNotInstalled(launch: Launch, problem: string, installable: boolean): Promise<void> {
    const actions = installable ? ['How to Install', 'Open Settings'] : ['Open Settings', 'How to Install'];
    // In a remote window a serverPath in the User settings is not applied: name the settings that are.
    const where = vscode.env.remoteName !== undefined ? ' (in a remote window, set pyengineer.serverPath in the Remote settings)' : '';
    const pick = await this.notify('error', `${problem}${where}`, ...actions);
    if (pick === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'pyengineer.');
      return;
    }
    if (pick !== 'How to Install') {
      return;
    }
    const command = installCommand(launch);
    const detail =
      `pyengineer is not on PyPI yet. Install it from its repository into the interpreter VS Code uses ` +
      `(needs git):\n\n    ${command}\n\n` +
      'Or, from a clone of the repository: "pipx install ." (or "uv tool install .") and point ' +
      'pyengineer.serverPath at that pyengineer executable, or "python -m pip install ." into the interpreter ' +
      'set in pyengineer.interpreter. Then run "pyengineer: Restart Server".';
    const buttons = vscode.workspace.isTrusted ? ['Copy Command', 'Run in Terminal'] : ['Copy Command'];
    const choice = await vscode.window.showInformationMessage('How to install pyengineer', { modal: true, detail }, ...buttons);
    if (choice === 'Copy Command') {
      await vscode.env.clipboard.writeText(command);
    } else if (choice === 'Run in Terminal') {
      const terminal = vscode.window.createTerminal('pyengineer install');
      terminal.show();
      terminal.sendText(command);
    }
  }

  private onStatus(params: unknown): void {
    const status = parseStatus(params);
    if (!status) {
      this.log(`ignoring a malformed ${STATUS_NOTIFICATION}: ${JSON.stringify(params)}`);
      return;
    }
    this.statuses.set(status.workspace, status);
    this.hooks?.record('status', status);
    this.refreshStatusItem();
  }

  refreshStatusItem(): void {
    const active = vscode.window.activeTextEditor?.document.uri.toString();
    const status = statusFor(this.statuses, active);
    if (!status) {
      return;
    }
    const shown = presentStatus(status);
    this.statusItem.text = shown.text;
    this.statusItem.tooltip = new vscode.MarkdownString(shown.tooltip, true);
    this.statusItem.backgroundColor = shown.warning ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.statusItem.show();
    this.hooks?.record('statusBar', shown.text);
  }

  private showStopped(state: string): void {
    this.statusItem.text = `$(circle-slash) pyengineer: ${state}`;
    this.statusItem.tooltip = 'pyengineer server: ' + state + '. Click for the project context; see "pyengineer: Show Server Log".';
    this.statusItem.backgroundColor = undefined;
    this.statusItem.show();
    this.hooks?.record('statusBar', this.statusItem.text);
  }

  /** Runs a server command through workspace/executeCommand; throws the server's error. */
  async serverCommand<T>(command: string, argument: unknown, token?: vscode.CancellationToken): Promise<T> {
    await this.lifecycle;
    const client = this.client;
    if (!client || !client.isRunning()) {
      throw new Error('the pyengineer server is not running (see "pyengineer: Show Server Log")');
    }
    const args = argument === undefined ? [] : [argument];
    return (await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args }, token)) as T;
  }

  /** Gives the running server a new key (null clears it); the same key twice is sent once. */
  setApiKey(apiKey: string | null): void {
    if (this.client?.isRunning() && apiKey !== this.sentApiKey) {
      this.sentApiKey = apiKey;
      void this.client.sendNotification(SET_API_KEY_NOTIFICATION, { apiKey });
    }
  }

  /**
   * Shows a command's result once, at its status' level (the server stays silent about it), and logs it once.
   * Resolves to the button picked, if any.
   */
  async say(result: CommandResult, ...buttons: string[]): Promise<string | undefined> {
    const level = resultLevel(result);
    const text = resultText(result);
    this.log(`${result.status}: ${result.message}`);
    return level === 'silent' ? undefined : this.notify(level, text, ...buttons);
  }

  /** Shows a message of the extension's own (not a server result), once, and records it for the tests. */
  notify(level: 'info' | 'warning' | 'error', text: string, ...buttons: string[]): Thenable<string | undefined> {
    this.hooks?.record('message', text);
    if (level === 'error') {
      return vscode.window.showErrorMessage(text, ...buttons);
    }
    return level === 'warning' ? vscode.window.showWarningMessage(text, ...buttons) : vscode.window.showInformationMessage(text, ...buttons);
  }

  currentStatus(): PyengineerStatus | undefined {
    return statusFor(this.statuses, vscode.window.activeTextEditor?.document.uri.toString());
  }

  showOutput(): void {
    this.output.show(true);
  }
}

function errorText(error: unknown): string {
  if (error instanceof ResponseError) {
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** The file the user is working on, or the first workspace folder. */
function targetUri(): vscode.Uri | undefined {
  const document = vscode.window.activeTextEditor?.document;
  if (document && document.uri.scheme === 'file') {
    return document.uri;
  }
  return vscode.workspace.workspaceFolders?.[0]?.uri;
}

function activePythonEditor(): vscode.TextEditor | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.languageId !== 'python' || editor.document.uri.scheme !== 'file') {
    void vscode.window.showWarningMessage('pyengineer: open a Python file first.');
    return undefined;
  }
  return editor;
}

/** Read-only documents the extension shows (project context, answers): closing them never asks to save. */
class ReadOnlyDocuments implements vscode.TextDocumentContentProvider {
  static readonly scheme = 'pyengineer';
  private readonly contents = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.path) ?? '';
  }

  async show(name: string, content: string): Promise<void> {
    const uri = vscode.Uri.from({ scheme: ReadOnlyDocuments.scheme, path: `/${name}` });
    this.contents.set(uri.path, content);
    this.changed.fire(uri);
    const document = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(document, { preview: true, viewColumn: vscode.ViewColumn.Beside });
  }
}

const readOnlyDocuments = new ReadOnlyDocuments();

/**
 * Runs a server command and shows its typed result once (the server sends no message of its own for it).
 * `then` runs before the message, for what the result asks of the editor (open the hand-off).
 */
async function runAndSay(
  ext: PyengineerExtension,
  command: string,
  argument: unknown,
  then?: (result: CommandResult) => Promise<void>,
): Promise<CommandResult | undefined> {
  let answer: unknown;
  try {
    answer = await ext.serverCommand<unknown>(command, argument);
  } catch (error) {
    // A JSON-RPC error: a bad request, or the server could not run it at all.
    ext.log(`${command} failed: ${errorText(error)}`);
    ext.hooks?.record('error', errorText(error));
    void ext.notify('error', `pyengineer: ${errorText(error)}`);
    return undefined;
  }
  const result = parseResult(answer);
  if (!result) {
    ext.log(`${command}: unexpected answer ${JSON.stringify(answer)}`);
    return undefined;
  }
  await then?.(result);
  void ext.say(result);
  return result;
}

function registerCommands(ext: PyengineerExtension, context: vscode.ExtensionContext): void {
  const register = (id: string, handler: (...args: unknown[]) => unknown): void => {
    context.subscriptions.push(vscode.commands.registerCommand(id, handler));
  };

  register('pyengineer.createFeatureBranch', async () => {
    const uri = targetUri();
    const where = uri ? { uri: uri.toString() } : {};
    let names: string[] = [];
    let current: string | null = null;
    try {
      const suggestion = await ext.serverCommand<{ names?: string[]; current?: string | null }>(
        'pyengineer.suggestBranchNames',
        where,
      );
      names = suggestion.names ?? [];
      current = suggestion.current ?? null;
    } catch (error) {
      ext.log(`suggestBranchNames failed: ${errorText(error)}`);
    }
    const protectedPatterns = vscode.workspace.getConfiguration('pyengineer', uri).get<string[]>('protectedBranches') ?? [];
    const name = await vscode.window.showInputBox({
      title: 'Create Feature Branch',
      prompt: current
        ? `New branch from '${current}'. Your uncommitted changes come along.`
        : 'Name of the new branch. Your uncommitted changes come along.',
      value: names[0] ?? '',
      valueSelection: names[0] ? [names[0].lastIndexOf('/') + 1, names[0].length] : undefined,
      placeHolder: 'feature/short-description',
      ignoreFocusOut: true,
      validateInput: (value) => {
        const problem = branchNameProblem(value.trim());
        if (problem) {
          return problem;
        }
        if (isProtectedBranch(value.trim(), protectedPatterns)) {
          return { message: `'${value.trim()}' is a protected branch.`, severity: vscode.InputBoxValidationSeverity.Warning };
        }
        return undefined;
      },
    });
    if (name === undefined) {
      return undefined;
    }
    return runAndSay(ext, 'pyengineer.createBranch', { ...where, name: name.trim() });
  });

  register('pyengineer.moveCommitsOffProtectedBranch', async () => {
    const uri = targetUri();
    const where = uri ? { uri: uri.toString() } : {};
    let names: string[] = [];
    try {
      names = (await ext.serverCommand<{ names?: string[] }>('pyengineer.suggestBranchNames', where)).names ?? [];
    } catch (error) {
      ext.log(`suggestBranchNames failed: ${errorText(error)}`);
    }
    const name = await vscode.window.showInputBox({
      title: 'Move Commits Off Protected Branch',
      prompt: 'The unpushed commits move to this new branch; your working tree and index stay as they are.',
      value: names[0] ?? '',
      placeHolder: 'feature/short-description',
      ignoreFocusOut: true,
      validateInput: (value) => branchNameProblem(value.trim()) ?? undefined,
    });
    if (name === undefined) {
      return undefined;
    }
    return runAndSay(ext, 'pyengineer.moveCommits', { ...where, name: name.trim() });
  });

  register('pyengineer.handOff', async () => {
    const editor = activePythonEditor();
    if (!editor) {
      return;
    }
    const result = await runAndSay(ext, 'pyengineer.handoff', { uri: editor.document.uri.toString() }, async (r) => {
      if (r.status === 'ok' && typeof r.path === 'string' && r.shown !== true) {
        // The server asks VS Code to show it (window/showDocument); open it here only when that did not happen.
        const file = vscode.Uri.file(r.path);
        if (!vscode.window.visibleTextEditors.some((e) => e.document.uri.fsPath === file.fsPath)) {
          await vscode.window.showTextDocument(file, { viewColumn: vscode.ViewColumn.Beside, preview: false });
        }
      }
    });
    return result;
  });

  register('pyengineer.askPythonEngineer', async () => {
    const editor = activePythonEditor();
    if (!editor) {
      return;
    }
    const selection = editor.selection;
    const scope = selection.isEmpty ? 'this file' : 'the selection';
    const question = await vscode.window.showInputBox({
      title: 'Ask python-engineer',
      prompt: `Ask about ${scope} (leave empty to ask for a review with fixes).`,
      placeHolder: 'How can I make this safer?',
      ignoreFocusOut: true,
    });
    if (question === undefined) {
      return;
    }
    const argument: Record<string, unknown> = { uri: editor.document.uri.toString() };
    if (!selection.isEmpty) {
      argument.range = {
        start: { line: selection.start.line, character: selection.start.character },
        end: { line: selection.end.line, character: selection.end.character },
      };
    }
    if (question.trim() !== '') {
      argument.question = question.trim();
    }
    try {
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'python-engineer is thinking…', cancellable: true },
        (_progress, token) => ext.serverCommand<AskResult | null>('pyengineer.ask', argument, token),
      );
      const outcome = askOutcome(result);
      if (outcome.kind === 'cancelled') {
        return;
      }
      if (outcome.kind === 'unavailable') {
        const buttons = outcome.needsKey ? ['Set Anthropic API Key'] : ['Open Settings'];
        const pick = await ext.notify('warning', `python-engineer is not available: ${outcome.message}`, ...buttons);
        if (pick === 'Set Anthropic API Key') {
          await vscode.commands.executeCommand('pyengineer.setApiKey');
        } else if (pick) {
          await vscode.commands.executeCommand('workbench.action.openSettings', 'pyengineer.llm');
        }
        return;
      }
      if (outcome.kind === 'error') {
        void ext.notify('error', `pyengineer: ask failed: ${outcome.message}`);
        return;
      }
      // The explanation is Markdown and many lines: a document, and one short message beside it.
      await readOnlyDocuments.show('python-engineer answer.md', `# python-engineer\n\n${outcome.explanation}\n`);
      void ext.notify(outcome.warn ? 'warning' : 'info', `pyengineer: ${outcome.message}`);
    } catch (error) {
      void ext.notify('error', `pyengineer: ask failed: ${errorText(error)}`);
    }
  });

  register('pyengineer.runTestsInteractive', async () => {
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('pyengineer does not run tests in an untrusted workspace.');
      return;
    }
    const uri = targetUri();
    const onFile = vscode.window.activeTextEditor?.document.languageId === 'python';
    const choices: (vscode.QuickPickItem & { scope: string })[] = [
      ...(onFile
        ? [
            { label: 'This file', description: 'tests for the active file', scope: 'file' },
            { label: 'This module', description: "tests for the active file's package", scope: 'module' },
          ]
        : []),
      { label: 'Whole project', description: 'the full test suite', scope: 'project' },
    ];
    const pick = await vscode.window.showQuickPick(choices, { title: 'Run Tests', placeHolder: 'Which tests?' });
    if (!pick) {
      return;
    }
    let answer: unknown;
    try {
      answer = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `pyengineer: running tests (${pick.scope})…`, cancellable: true },
        (_p, token) =>
          ext.serverCommand<unknown>('pyengineer.runTests', { ...(uri ? { uri: uri.toString() } : {}), scope: pick.scope }, token),
      );
    } catch (error) {
      void ext.notify('error', `pyengineer: running tests failed: ${errorText(error)}`);
      return;
    }
    const result = parseResult(answer);
    if (!result) {
      void ext.notify('error', 'pyengineer: running tests failed: the server sent no result');
      return;
    }
    const output = typeof result.output === 'string' ? result.output : '';
    // pytest's output is many lines: a document on request, not the log and not the toast.
    const shown = await ext.say(result, ...(output.trim() !== '' ? ['Show Output'] : []));
    if (shown === 'Show Output') {
      await readOnlyDocuments.show('test output.txt', output);
    }
  });

  register('pyengineer.showProjectContext', async () => {
    const uri = targetUri();
    try {
      const context = await ext.serverCommand<unknown>('pyengineer.showContext', uri ? { uri: uri.toString() } : {});
      await readOnlyDocuments.show('project context.json', `${JSON.stringify(context, null, 2)}\n`);
    } catch (error) {
      const status = ext.currentStatus();
      const where = status ? ` (on ${headLabel(status)})` : '';
      void vscode.window.showErrorMessage(`pyengineer: could not get the project context${where}: ${errorText(error)}`);
    }
  });

  register('pyengineer.restartServer', () => ext.restart('requested by the user'));
  register('pyengineer.showOutput', () => ext.showOutput());

  register('pyengineer.setApiKey', async () => {
    const key = await vscode.window.showInputBox({
      title: 'Set Anthropic API Key',
      prompt: 'Stored in VS Code secret storage (never in settings.json) and passed to the pyengineer server.',
      placeHolder: 'sk-ant-…',
      password: true,
      ignoreFocusOut: true,
      validateInput: (value) => (value.trim() === '' ? 'Enter the key, or press Escape.' : /\s/.test(value.trim()) ? 'An API key has no spaces.' : undefined),
    });
    if (key === undefined) {
      return;
    }
    // Sent now, and not again when the secret storage reports its own change.
    ext.setApiKey(key.trim());
    await context.secrets.store(API_KEY_SECRET, key.trim());
    ext.log('Anthropic API key saved in secret storage');
    void ext.notify('info', 'pyengineer: API key saved.');
  });

  register('pyengineer.clearApiKey', async () => {
    ext.setApiKey(null);
    await context.secrets.delete(API_KEY_SECRET);
    ext.log('Anthropic API key cleared');
    void ext.notify('info', 'pyengineer: API key cleared.');
  });
}

let extension: PyengineerExtension | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const ext = new PyengineerExtension(context);
  extension = ext;
  context.subscriptions.push(ext);
  context.subscriptions.push(
    vscode.workspace.registerTextDocumentContentProvider(ReadOnlyDocuments.scheme, readOnlyDocuments),
  );
  registerCommands(ext, context);
  ext.hooks?.install(context);

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (changeNeedsRestart((section) => event.affectsConfiguration(section))) {
        void ext.restart('pyengineer.serverPath or pyengineer.interpreter changed');
      }
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      void ext.restart('the workspace is now trusted');
    }),
    vscode.window.onDidChangeActiveTextEditor(() => ext.refreshStatusItem()),
    context.secrets.onDidChange(async (event) => {
      if (event.key === API_KEY_SECRET) {
        ext.setApiKey((await context.secrets.get(API_KEY_SECRET)) ?? null);
      }
    }),
  );
  ext.log(`pyengineer extension ${String(context.extension.packageJSON.version)} in ${path.basename(vscode.env.appRoot)}`);
  // Not awaited: activation must not wait for the server; commands wait for it themselves.
  void ext.start();
}

export async function deactivate(): Promise<void> {
  await extension?.stop();
  extension = undefined;
}
