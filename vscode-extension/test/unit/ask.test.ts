import assert from 'node:assert/strict';
import { test } from 'node:test';

import { askOutcome } from '../../src/ask';
import { parseResult, resultLevel, resultText } from '../../src/results';

test('an answer as the contract says', () => {
  assert.deepEqual(
    askOutcome({ status: 'ok', message: "python-engineer's edit was applied.", explanation: 'Use a context manager.', applied: true }),
    { kind: 'answer', explanation: 'Use a context manager.', applied: true, message: "python-engineer's edit was applied.", warn: false },
  );
});

test('statuses the server may send', () => {
  const noKey = askOutcome({ status: 'unavailable', message: 'No Anthropic API key: run "pyengineer: Set Anthropic API Key".' });
  assert.equal(noKey.kind === 'unavailable' && noKey.needsKey, true);
  const disabled = askOutcome({ status: 'unavailable', message: 'The python-engineer agent is disabled (the pyengineer.llm.enabled setting).' });
  assert.equal(disabled.kind === 'unavailable' && disabled.needsKey, false);
  assert.deepEqual(askOutcome({ status: 'cancelled', message: 'The request was cancelled.' }), { kind: 'cancelled' });
  assert.deepEqual(askOutcome({ status: 'failed', kind: 'network', message: 'Could not reach' }), { kind: 'error', message: 'Could not reach' });
  const limited = askOutcome({ status: 'limit', message: 'python-engineer stopped early: token budget.', explanation: 'partial' });
  assert.equal(limited.kind === 'answer' && limited.warn, true);
});

test('never shows "undefined" for a malformed answer', () => {
  assert.equal(askOutcome(null).kind, 'error');
  assert.equal(askOutcome({}).kind, 'error');
  assert.match(JSON.stringify(askOutcome({ status: 'weird' })), /status weird/);
});

test('command results: one message, at the level of the status', () => {
  const refused = parseResult({ status: 'refused', message: "Could not create branch 'x': it exists", branch: null });
  assert.ok(refused);
  assert.equal(resultLevel(refused), 'warning');
  assert.equal(resultText(refused), "pyengineer: Could not create branch 'x': it exists");
  assert.equal(resultLevel({ status: 'ok', message: '' }), 'info');
  assert.equal(resultLevel({ status: 'failed', message: '' }), 'error');
  assert.equal(resultLevel({ status: 'cancelled', message: '' }), 'silent');
  assert.equal(parseResult({ branch: 'x' }), undefined);
  assert.equal(parseResult(null), undefined);
});
