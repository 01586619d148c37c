/**
 * The real `pyengineer serve`, driven over stdio by vscode-languageserver-protocol (the library VS Code's
 * language client is built on), on a real git repository.
 */
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { after, before, test } from 'node:test';
import {
  CodeAction,
  Command,
  Diagnostic,
  InitializeResult,
  MessageConnection,
  PublishDiagnosticsParams,
  StreamMessageReader,
  StreamMessageWriter,
  createMessageConnection,
} from 'vscode-languageserver-protocol/node';

import { DEFAULT_SETTINGS, ServerSettings } from '../../src/settings';
import { EDITED_MODEL, Scenario, createScenario, currentBranch, serverExecutable, waitFor } from '../support/scenario';

let scenario: Scenario;
let server: ChildProcess;
let connection: MessageConnection;
let initializeResult: InitializeResult;
let stderr = '';
let settings: ServerSettings = structuredClone(DEFAULT_SETTINGS);
const diagnostics = new Map<string, Diagnostic[]>();
const statuses: Record<string, unknown>[] = [];
const shownDocuments: unknown[] = [];
const messages: { type: number; message: string }[] = [];
const configurationRequests: unknown[] = [];

function codes(uri: string): string[] {
  return (diagnostics.get(uri) ?? []).map((d) => String(d.code));
}

before(async () => {
  scenario = createScenario();
  server = spawn(serverExecutable(), ['serve'], { cwd: scenario.repo, stdio: ['pipe', 'pipe', 'pipe'] });
  server.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  connection = createMessageConnection(new StreamMessageReader(server.stdout!), new StreamMessageWriter(server.stdin!));
  connection.onNotification('textDocument/publishDiagnostics', (params: PublishDiagnosticsParams) => {
    diagnostics.set(params.uri, params.diagnostics);
  });
  connection.onNotification('pyengineer/status', (params: Record<string, unknown>) => {
    statuses.push(params);
  });
  connection.onNotification('window/showMessage', (params: { type: number; message: string }) => messages.push(params));
  connection.onNotification('window/logMessage', () => undefined);
  connection.onNotification('$/progress', () => undefined);
  connection.onRequest('workspace/configuration', (params: { items: { section?: string }[] }) => {
    configurationRequests.push(params);
    return params.items.map((item) => (item.section === 'pyengineer' ? settings : null));
  });
  connection.onRequest('client/registerCapability', () => null);
  connection.onRequest('client/unregisterCapability', () => null);
  connection.onRequest('window/workDoneProgress/create', () => null);
  connection.onRequest('window/showDocument', (params: unknown) => {
    shownDocuments.push(params);
    return { success: true };
  });
  connection.onRequest('workspace/applyEdit', () => ({ applied: false, failureReason: 'test client' }));
  connection.listen();

  const exited = new Promise<never>((_resolve, reject) => {
    server.on('exit', (code, signal) =>
      reject(new Error(`pyengineer serve exited early (code ${code}, signal ${signal})${explain()}`)),
    );
    server.on('error', (error) => reject(new Error(`could not start pyengineer serve: ${error.message}`)));
  });
  exited.catch(() => undefined);
  const rootUri = `file://${scenario.repo}`;
  const initialize = connection.sendRequest('initialize', {
    processId: process.pid,
    clientInfo: { name: 'pyengineer-protocol-test', version: '1' },
    rootUri,
    rootPath: scenario.repo,
    workspaceFolders: [{ uri: rootUri, name: 'demo' }],
    initializationOptions: { settings, trusted: true },
    capabilities: {
      workspace: {
        configuration: true,
        workspaceFolders: true,
        applyEdit: true,
        didChangeConfiguration: { dynamicRegistration: true },
        executeCommand: { dynamicRegistration: false },
      },
      textDocument: {
        synchronization: { didSave: true, dynamicRegistration: false },
        publishDiagnostics: { relatedInformation: true, codeDescriptionSupport: true, dataSupport: true },
        codeAction: {
          dynamicRegistration: false,
          isPreferredSupport: true,
          dataSupport: true,
          resolveSupport: { properties: ['edit', 'command'] },
          codeActionLiteralSupport: { codeActionKind: { valueSet: ['', 'quickfix', 'refactor', 'source'] } },
        },
      },
      window: { showDocument: { support: true }, workDoneProgress: true, showMessage: {} },
    },
  });
  initializeResult = (await Promise.race([initialize, exited])) as InitializeResult;
  await connection.sendNotification('initialized', {});
  await connection.sendNotification('textDocument/didOpen', {
    textDocument: { uri: scenario.modelUri, languageId: 'python', version: 1, text: EDITED_MODEL },
  });
});

after(async () => {
  try {
    await Promise.race([connection.sendRequest('shutdown'), new Promise((resolve) => setTimeout(resolve, 5000))]);
    await connection.sendNotification('exit');
  } catch {
    // the process may already be gone; the kill below makes sure
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  server.kill();
  connection.dispose();
  if (process.env.PYENGINEER_KEEP_SCENARIO !== '1') {
    scenario.cleanup();
  }
});

function explain(): string {
  return `\nserver stderr (tail):\n${stderr.slice(-3000)}\nmessages: ${JSON.stringify(messages)}`;
}

test('the server advertises the pyengineer commands', () => {
  const commands = initializeResult.capabilities.executeCommandProvider?.commands ?? [];
  for (const command of [
    'pyengineer.createBranch',
    'pyengineer.suggestBranchNames',
    'pyengineer.handoff',
    'pyengineer.showContext',
    'pyengineer.rescan',
    'pyengineer.runTests',
    'pyengineer.ask',
  ]) {
    assert.ok(commands.includes(command), `${command} missing from executeCommandProvider: ${JSON.stringify(commands)}`);
  }
  assert.ok(initializeResult.capabilities.codeActionProvider, 'codeActionProvider');
});

test('PE101 and PE201 arrive for the edited file on main', async () => {
  await waitFor('PE101 and PE201 for model.py', 40_000, () => {
    const found = codes(scenario.modelUri);
    return found.includes('PE101') && found.includes('PE201') ? true : undefined;
  }, explain);
  const items = diagnostics.get(scenario.modelUri)!;
  for (const d of items) {
    assert.equal(d.source, 'pyengineer');
  }
  const pe201 = items.find((d) => d.code === 'PE201')!;
  assert.equal(pe201.range.start.line, 0, 'PE201 is on the import line');
  assert.match(pe201.message, /torch/);
});

test('a status notification reports the protected branch', async () => {
  const status = await waitFor('pyengineer/status on main', 20_000, () =>
    statuses.find((s) => s.branch === 'main'),
  );
  assert.equal(status.protected, true);
  assert.equal(status.workspace, `file://${scenario.repo}`);
  assert.equal(status.pythonProject, true);
  assert.ok((status.mlFileCount as number) >= 1, `mlFileCount ${String(status.mlFileCount)}`);
  assert.equal(typeof (status.llm as Record<string, unknown>).enabled, 'boolean');
});

test('suggestBranchNames and showContext answer for the file', async () => {
  const suggestion = (await connection.sendRequest('workspace/executeCommand', {
    command: 'pyengineer.suggestBranchNames',
    arguments: [{ uri: scenario.modelUri }],
  })) as { names: string[]; current: string | null; protected: boolean };
  assert.ok(suggestion.names.length > 0, JSON.stringify(suggestion));
  assert.equal(suggestion.current, 'main');
  assert.equal(suggestion.protected, true);
  const context = (await connection.sendRequest('workspace/executeCommand', {
    command: 'pyengineer.showContext',
    arguments: [{ uri: scenario.modelUri }],
  })) as { root: string; python_project: boolean; git: { branch: string; protected: boolean; dirty: boolean | number } };
  const shown = JSON.stringify(context);
  assert.equal(context.root, scenario.repo, shown);
  assert.equal(context.python_project, true, shown);
  assert.equal(context.git.branch, 'main', shown);
  assert.equal(context.git.protected, true, shown);
  assert.ok(context.git.dirty, `model.py is modified: ${shown}`);
});

test('an invalid branch name is refused with a reason, and nothing changes', async () => {
  // An expected refusal is a typed result (the client shows its message), not a JSON-RPC error.
  const result = (await connection.sendRequest('workspace/executeCommand', {
    command: 'pyengineer.createBranch',
    arguments: [{ name: 'bad..name', uri: scenario.modelUri }],
  })) as { status: string; message: string };
  assert.equal(result.status, 'refused');
  assert.match(result.message, /bad\.\.name/);
  assert.equal(currentBranch(scenario.repo), 'main');
});

let newBranch = '';

test('the code actions offer Create branch and Hand off; running Create branch switches the branch', async () => {
  const items = diagnostics.get(scenario.modelUri)!;
  const pe101 = items.find((d) => d.code === 'PE101')!;
  const pe201 = items.find((d) => d.code === 'PE201')!;
  const actionsFor = async (diagnostic: Diagnostic) =>
    ((await connection.sendRequest('textDocument/codeAction', {
      textDocument: { uri: scenario.modelUri },
      range: diagnostic.range,
      context: { diagnostics: [diagnostic], triggerKind: 1 },
    })) ?? []) as (CodeAction | Command)[];

  const branchActions = await actionsFor(pe101);
  const titles = branchActions.map((a) => a.title);
  let create = branchActions.find((a) => /^Create branch '.+' \(keeps your changes\)$/.test(a.title));
  assert.ok(create, `no Create branch action among ${JSON.stringify(titles)}`);
  const handoffTitles = (await actionsFor(pe201)).map((a) => a.title);
  assert.ok(handoffTitles.includes('Hand off to ai-engineer'), JSON.stringify(handoffTitles));

  if ('kind' in create || 'diagnostics' in create || 'data' in create) {
    const action = create as CodeAction;
    if (!action.command && !action.edit) {
      create = (await connection.sendRequest('codeAction/resolve', action)) as CodeAction;
    }
  }
  const command: Command = 'command' in create && typeof create.command === 'object' ? create.command! : (create as Command);
  assert.equal(command.command, 'pyengineer.createBranch');

  const result = (await connection.sendRequest('workspace/executeCommand', {
    command: command.command,
    arguments: command.arguments,
  })) as { status: string; message: string; branch: string; previous: string | null };
  newBranch = result.branch;
  assert.equal(result.previous, 'main');
  // One voice: the result carries the sentence the client shows, and the server sends no showMessage for it.
  assert.equal(result.status, 'ok');
  assert.match(result.message, new RegExp(`^Switched to the new branch '`));
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(messages, [], 'no window/showMessage for a command the client ran');
  assert.equal(currentBranch(scenario.repo), newBranch, 'git HEAD is on the new branch');
  assert.match(create.title, new RegExp(`'${newBranch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'`));
  assert.equal(fs.readFileSync(scenario.modelPath, 'utf8'), EDITED_MODEL, 'the edited file is byte-identical');

  await waitFor('PE101 to disappear after the switch', 20_000, () => {
    const found = codes(scenario.modelUri);
    return !found.includes('PE101') && found.includes('PE201') ? true : undefined;
  }, explain);
  const status = await waitFor(`pyengineer/status on ${newBranch}`, 20_000, () =>
    statuses.find((s) => s.branch === newBranch),
  );
  assert.equal(status.protected, false);
});

test('a settings change reaches the running server without a restart (pushed, as VS Code sends it)', async () => {
  assert.ok(newBranch, 'needs the branch from the previous test');
  settings = { ...settings, protectedBranches: [...settings.protectedBranches, newBranch] };
  // vscode-languageclient's synchronize.configurationSection pushes the raw "pyengineer" section, client-only
  // keys included; the server must ignore those.
  const raw = { ...settings, serverPath: '/somewhere/pyengineer', interpreter: '', trace: { server: 'off' } };
  await connection.sendNotification('workspace/didChangeConfiguration', { settings: { pyengineer: raw } });
  await waitFor('PE101 again once the new branch is protected', 20_000, () =>
    codes(scenario.modelUri).includes('PE101') ? true : undefined, explain);
});

test('a settings change without values makes the server pull workspace/configuration', async () => {
  const before = configurationRequests.length;
  settings = { ...settings, protectedBranches: DEFAULT_SETTINGS.protectedBranches };
  await connection.sendNotification('workspace/didChangeConfiguration', { settings: null });
  await waitFor('PE101 gone once the branch is no longer protected', 20_000, () =>
    codes(scenario.modelUri).includes('PE101') ? undefined : true, explain);
  assert.ok(configurationRequests.length > before, 'the server pulled workspace/configuration');
});

test('an API key sent after start is accepted without breaking the session', async () => {
  await connection.sendNotification('pyengineer/setApiKey', { apiKey: null });
  const context = (await connection.sendRequest('workspace/executeCommand', {
    command: 'pyengineer.showContext',
    arguments: [{ uri: scenario.modelUri }],
  })) as { git: { branch: string } };
  assert.equal(context.git.branch, newBranch);
});
