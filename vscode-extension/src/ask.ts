/**
 * The answer of `pyengineer.ask`: `{explanation, applied}` on success; the server may add a `status`
 * ("ok", "limit", "cancelled", "unavailable", "error") with a `message`. Pure, unit-tested.
 */

export interface AskResult {
  status?: string;
  message?: string;
  explanation?: string;
  applied?: boolean;
  reason?: string | null;
}

export type AskOutcome =
  | { kind: 'answer'; explanation: string; applied: boolean; note?: string }
  | { kind: 'cancelled' }
  | { kind: 'unavailable'; message: string }
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
    return { kind: 'unavailable', message: message ?? 'the LLM agent is not available' };
  }
  if (typeof result.explanation === 'string' && result.explanation.trim() !== '') {
    const note = result.status === 'limit' && message ? `stopped early: ${message}` : undefined;
    return { kind: 'answer', explanation: result.explanation, applied: result.applied === true, note };
  }
  return { kind: 'error', message: message ?? `no explanation in the answer (status ${String(result.status ?? 'missing')})` };
}
