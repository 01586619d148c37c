/**
 * The typed results of the server's commands (server/pyengineer/lsp/results.py): every command answers
 * `{status, message, ...}`, and the server sends no window/showMessage of its own for it, so the extension
 * shows `message` once, at the level the status calls for. Pure, unit-tested.
 */

export type ResultLevel = 'info' | 'warning' | 'error' | 'silent';

export interface CommandResult {
  status: string;
  message: string;
  [key: string]: unknown;
}

/** The result, or undefined when the server sent something else (an older server, a bug). */
export function parseResult(value: unknown): CommandResult | undefined {
  if (value === null || typeof value !== 'object') {
    return undefined;
  }
  const v = value as Record<string, unknown>;
  if (typeof v.status !== 'string' || typeof v.message !== 'string') {
    return undefined;
  }
  return v as CommandResult;
}

/** How loudly to say it: a cancellation the user asked for is not news; a refusal is a warning. */
export function resultLevel(result: CommandResult): ResultLevel {
  switch (result.status) {
    case 'ok':
      return 'info';
    case 'cancelled':
      return 'silent';
    case 'failed':
      return 'error';
    default:
      // refused, unavailable, needs-review, tests-failed, no-tests, limit
      return 'warning';
  }
}

/** The text to show: our name, then the server's sentence (which carries no prefix and no Markdown). */
export function resultText(result: CommandResult): string {
  return `pyengineer: ${result.message}`;
}
