import assert from 'node:assert/strict';
import { test } from 'node:test';

import { askOutcome } from '../../src/ask';

test('an answer as the contract says', () => {
  assert.deepEqual(askOutcome({ explanation: 'Use a context manager.', applied: true }), {
    kind: 'answer',
    explanation: 'Use a context manager.',
    applied: true,
    note: undefined,
  });
  assert.equal(askOutcome({ status: 'ok', explanation: 'x', applied: false }).kind, 'answer');
});

test('statuses the server may send', () => {
  assert.deepEqual(askOutcome({ status: 'unavailable', message: 'set ANTHROPIC_API_KEY' }), {
    kind: 'unavailable',
    message: 'set ANTHROPIC_API_KEY',
  });
  assert.deepEqual(askOutcome({ status: 'cancelled' }), { kind: 'cancelled' });
  assert.deepEqual(askOutcome({ status: 'error', kind: 'refused', message: 'no' } as never), { kind: 'error', message: 'no' });
  const limited = askOutcome({ status: 'limit', message: 'token budget', explanation: 'partial', applied: false });
  assert.equal(limited.kind, 'answer');
  assert.equal(limited.kind === 'answer' && limited.note, 'stopped early: token budget');
});

test('never shows "undefined" for a malformed answer', () => {
  assert.equal(askOutcome(null).kind, 'error');
  assert.equal(askOutcome({}).kind, 'error');
  assert.match(JSON.stringify(askOutcome({ status: 'weird' })), /status weird/);
});
