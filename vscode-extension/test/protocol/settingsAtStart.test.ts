/**
 * Neovim (vim.lsp.start with `settings`), Helix and others send workspace/didChangeConfiguration right after
 * `initialized`, before the server has finished pulling workspace/configuration. The workspace must still load.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import {
  Diagnostic,
  PublishDiagnosticsParams,
  StreamMessageReader,
  StreamMessageWriter,
  createMessageConnection,
} from 'vscode-languageserver-protocol/node';

import { EDITED_MODEL, createScenario, serverExecutable, waitFor } from '../support/scenario';

test('didChangeConfiguration right after initialized (as Neovim sends it) still loads the workspace', async () => {
  const scenario = createScenario('pyengineer-settings-at-start-');
  const server = spawn(serverExecutable(), ['serve'], { cwd: scenario.repo, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  server.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const connection = createMessageConnection(new StreamMessageReader(server.stdout!), new StreamMessageWriter(server.stdin!));
  const settings = { protectedBranches: ['main', 'master', 'develop'], debounceMs: 50 };
  let diagnostics: Diagnostic[] = [];
  let statuses = 0;
  connection.onNotification('textDocument/publishDiagnostics', (params: PublishDiagnosticsParams) => {
    if (params.uri === scenario.modelUri) {
      diagnostics = params.diagnostics;
    }
  });
  connection.onNotification('pyengineer/status', () => (statuses += 1));
  connection.onNotification(() => undefined);
  connection.onRequest('workspace/configuration', (params: { items: { section?: string }[] }) =>
    params.items.map((item) => (item.section === 'pyengineer' ? settings : null)),
  );
  connection.onRequest(() => null);
  connection.listen();
  try {
    const rootUri = `file://${scenario.repo}`;
    await connection.sendRequest('initialize', {
      processId: process.pid,
      rootUri,
      workspaceFolders: [{ uri: rootUri, name: 'demo' }],
      initializationOptions: { settings, trusted: true },
      capabilities: { workspace: { configuration: true, workspaceFolders: true }, window: { workDoneProgress: true } },
    });
    // The order Neovim uses: initialized, didChangeConfiguration (its `settings`), then didOpen, back to back.
    await connection.sendNotification('initialized', {});
    await connection.sendNotification('workspace/didChangeConfiguration', { settings: { pyengineer: settings } });
    await connection.sendNotification('textDocument/didOpen', {
      textDocument: { uri: scenario.modelUri, languageId: 'python', version: 0, text: EDITED_MODEL },
    });
    await waitFor(
      'PE101 for model.py',
      30_000,
      () => (diagnostics.some((d) => d.code === 'PE101') ? true : undefined),
      () => `\nstatus notifications: ${statuses}, diagnostics: ${JSON.stringify(diagnostics)}\nstderr: ${stderr.slice(-2000)}`,
    );
    assert.ok(statuses > 0, 'a pyengineer/status was sent');
  } finally {
    server.kill();
    connection.dispose();
    scenario.cleanup();
  }
});
