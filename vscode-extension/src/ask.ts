/**
 * The answer of `pyengineer.ask` (server/pyengineer/lsp/results.py AskResult): `{status, message}` always,
 * `explanation` (the model's Markdown, for a document) and `applied` when the model answered. Pure, unit-tested.
 */

export interface AskResult {
  status?: string;
  message?: string;
  kind?: string | null;
  explanation?: string;
  applied?: boolean;
  reason?: string | null;
}

export type AskOutcome =
  /** The model answered: show `explanation` as a document, and `message` once (`warn`: it stopped early). */
  | { kind: 'answer'; explanation: string; applied: boolean; message: string; warn: boolean }
  | { kind: 'cancelled' }
  /** No key or disabled: `message` says what to do; `needsKey` offers the Set Anthropic API Key button. */
  | { kind: 'unavailable'; message: string; needsKey: boolean }
  | { kind: 'error'; message: string };

export function askOutcome(result: AskResult | null | undefined): AskOutcome {
  if (!result || typeof result !== 'object') {
    return { kind: 'error', message: 'the server sent no answer' };
  }
  const message = typeof result.message === 'string' && result.message !== '' ? result.message : undefined;
  if (result.status === 'cancelled') {
    return { kind: 'cancelled' };
  }
  if (result.status === 'unavailable') {
    const text = message ?? 'the LLM agent is not available';
    return { kind: 'unavailable', message: text, needsKey: /API key/i.test(text) && !/disabled/i.test(text) };
  }
  if (typeof result.explanation === 'string' && result.explanation.trim() !== '') {
    return {
      kind: 'answer',
      explanation: result.explanation,
      applied: result.applied === true,
      message: message ?? 'python-engineer answered.',
      warn: result.status !== 'ok',
    };
  }
  return { kind: 'error', message: message ?? `no explanation in the answer (status ${String(result.status ?? 'missing')})` };
}
