/**
 * Test-only hooks, active only when PYENGINEER_TEST_HOOKS=1 and PYENGINEER_TEST_HOOKS_FILE name a file.
 *
 * The end-to-end test in code-server cannot read VS Code's memory, so the extension host writes what it sees
 * (diagnostics from vscode.languages.getDiagnostics, the code actions VS Code offers for them, the status bar
 * text, the server's status notifications, errors) to that file as JSON whenever it changes.
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';

interface HookState {
  written: string;
  clientState: string | null;
  statusBar: string | null;
  status: unknown;
  errors: string[];
  /** Every message the extension showed the user (toasts), in order: the tests count them. */
  messages: string[];
  diagnostics: { uri: string; items: unknown[] }[];
  codeActions: Record<string, string[]>;
}

function severityName(severity: vscode.DiagnosticSeverity): string {
  return ['error', 'warning', 'info', 'hint'][severity] ?? String(severity);
}

function codeOf(diagnostic: vscode.Diagnostic): string | null {
  const code = diagnostic.code;
  if (code === undefined) {
    return null;
  }
  return typeof code === 'object' ? String(code.value) : String(code);
}

export class TestHooks {
  private readonly state: HookState = {
    written: '',
    clientState: null,
    statusBar: null,
    status: null,
    errors: [],
    messages: [],
    diagnostics: [],
    codeActions: {},
  };
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly file: string,
    private readonly output: vscode.OutputChannel,
  ) {}

  static fromEnvironment(output: vscode.OutputChannel): TestHooks | undefined {
    const file = process.env.PYENGINEER_TEST_HOOKS_FILE;
    if (process.env.PYENGINEER_TEST_HOOKS !== '1' || !file) {
      return undefined;
    }
    output.appendLine(`[test hooks] writing state to ${file}`);
    return new TestHooks(file, output);
  }

  install(context: vscode.ExtensionContext): void {
    context.subscriptions.push(
      vscode.languages.onDidChangeDiagnostics(() => this.schedule()),
      vscode.commands.registerCommand('pyengineer.test.writeState', () => this.write()),
      { dispose: () => clearTimeout(this.timer) },
    );
    this.schedule();
  }

  record(kind: 'clientState' | 'statusBar' | 'status' | 'error' | 'message', value: unknown): void {
    if (kind === 'error') {
      this.state.errors.push(String(value));
    } else if (kind === 'message') {
      this.state.messages.push(String(value));
    } else if (kind === 'status') {
      this.state.status = value;
    } else if (kind === 'statusBar') {
      this.state.statusBar = String(value);
    } else {
      this.state.clientState = String(value);
    }
    this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.write(), 100);
  }

  async write(): Promise<void> {
    const diagnostics: HookState['diagnostics'] = [];
    const codeActions: Record<string, string[]> = {};
    for (const [uri, items] of vscode.languages.getDiagnostics()) {
      const ours = items.filter((d) => d.source === 'pyengineer');
      if (ours.length === 0) {
        continue;
      }
      diagnostics.push({
        uri: uri.toString(),
        items: ours.map((d) => ({
          code: codeOf(d),
          message: d.message,
          severity: severityName(d.severity),
          source: d.source,
          range: [d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character],
        })),
      });
      const titles = new Set<string>();
      for (const d of ours) {
        try {
          const actions = await vscode.commands.executeCommand<(vscode.CodeAction | vscode.Command)[]>(
            'vscode.executeCodeActionProvider',
            uri,
            d.range,
          );
          for (const action of actions ?? []) {
            titles.add(action.title);
          }
        } catch (error) {
          this.state.errors.push(`code actions for ${uri.toString()}: ${String(error)}`);
        }
      }
      codeActions[uri.toString()] = [...titles];
    }
    this.state.diagnostics = diagnostics;
    this.state.codeActions = codeActions;
    this.state.written = new Date().toISOString();
    try {
      await fs.promises.writeFile(`${this.file}.tmp`, JSON.stringify(this.state, null, 2));
      await fs.promises.rename(`${this.file}.tmp`, this.file);
    } catch (error) {
      this.output.appendLine(`[test hooks] could not write ${this.file}: ${String(error)}`);
    }
  }
}
