import assert from 'node:assert/strict';
import { test } from 'node:test';

import { headLabel, parseStatus, presentStatus, statusFor } from '../../src/status';

const SAMPLE = {
  workspace: 'file:///work/repo',
  root: '/work/repo',
  branch: 'main',
  detached: false,
  head: 'abc1234def5678',
  protected: true,
  pythonProject: true,
  packageManager: 'uv',
  frameworks: ['fastapi'],
  mlFileCount: 2,
  llm: { enabled: true, available: false, reason: 'no API key', model: 'claude-sonnet-5-5' },
  usage: null,
};

test('parses the status notification', () => {
  const status = parseStatus(SAMPLE);
  assert.ok(status);
  assert.equal(status.branch, 'main');
  assert.equal(status.mlFileCount, 2);
  assert.equal(status.llm.reason, 'no API key');
});

test('rejects what is not a status', () => {
  assert.equal(parseStatus(null), undefined);
  assert.equal(parseStatus('main'), undefined);
  assert.equal(parseStatus({ branch: 'main' }), undefined);
});

test('tolerates missing optional fields', () => {
  const status = parseStatus({ workspace: 'file:///w' });
  assert.ok(status);
  assert.equal(status.branch, null);
  assert.deepEqual(status.frameworks, []);
  assert.equal(status.llm.enabled, false);
});

test('status bar text: protected warning, ML count, LLM state; the branch name only in the tooltip', () => {
  const shown = presentStatus(parseStatus(SAMPLE)!);
  // VS Code's Git item shows the branch beside ours: ours does not say it again.
  assert.equal(shown.text, '$(shield) protected  $(beaker) 2 ML  $(sparkle) LLM unavailable');
  assert.ok(!shown.text.includes('main'));
  assert.match(shown.tooltip, /Branch: main/);
  assert.equal(shown.warning, true);
  assert.match(shown.tooltip, /protected: create a feature branch/);
  assert.match(shown.tooltip, /no API key/);
  assert.match(shown.tooltip, /fastapi/);
});

test('a feature branch without ML files and LLM on', () => {
  const shown = presentStatus(
    parseStatus({ ...SAMPLE, branch: 'feature/x', protected: false, mlFileCount: 0, llm: { ...SAMPLE.llm, available: true } })!,
  );
  assert.equal(shown.text, '$(sparkle) LLM on');
  assert.match(shown.tooltip, /Branch: feature\/x/);
  assert.equal(shown.warning, false);
});

test('LLM disabled reads off', () => {
  const shown = presentStatus(parseStatus({ ...SAMPLE, llm: { ...SAMPLE.llm, enabled: false } })!);
  assert.match(shown.text, /LLM off$/);
});

test('detached and missing heads', () => {
  assert.equal(headLabel(parseStatus({ ...SAMPLE, branch: null, detached: true })!), 'detached at abc1234d');
  assert.equal(headLabel(parseStatus({ ...SAMPLE, branch: null, detached: false })!), 'no git repository');
});

test('markdown in names is escaped in the tooltip', () => {
  const shown = presentStatus(parseStatus({ ...SAMPLE, branch: 'feat/*bold*', root: '/w/[x](y)' })!);
  assert.ok(shown.tooltip.includes('feat/\\*bold\\*'));
  assert.ok(shown.tooltip.includes('\\[x\\]\\(y\\)'));
});

test('picks the status of the workspace folder holding the document', () => {
  const a = parseStatus({ ...SAMPLE, workspace: 'file:///w/a', branch: 'a' })!;
  const ab = parseStatus({ ...SAMPLE, workspace: 'file:///w/a/b', branch: 'ab' })!;
  const map = new Map([
    [a.workspace, a],
    [ab.workspace, ab],
  ]);
  assert.equal(statusFor(map, 'file:///w/a/x.py')?.branch, 'a');
  assert.equal(statusFor(map, 'file:///w/a/b/x.py')?.branch, 'ab');
  assert.equal(statusFor(map, 'file:///w/ab/x.py')?.branch, 'a'); // no folder match: first one
  assert.equal(statusFor(new Map(), 'file:///w/a/x.py'), undefined);
});

test('a degraded watch shows in the status bar and its reason in the tooltip', () => {
  const polling = parseStatus({
    ...SAMPLE,
    watching: 'polling',
    watchProblem: 'inotify watch limit reached (fs.inotify.max_user_watches)',
  });
  assert.ok(polling);
  const shown = presentStatus(polling);
  assert.ok(shown.text.includes('$(eye-closed) polling'));
  assert.ok(shown.tooltip.includes('max\\_user\\_watches'));
  const fine = parseStatus({ ...SAMPLE, watching: 'inotify', watchProblem: null });
  assert.ok(fine);
  assert.ok(!presentStatus(fine).text.includes('eye-closed'));
  assert.equal(parseStatus(SAMPLE)?.watching, 'off');
});
