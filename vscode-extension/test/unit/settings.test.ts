import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  DEFAULT_SETTINGS,
  changeNeedsRestart,
  parseJsonc,
  shadowedMessage,
  shadowedUserSettings,
  toServerSettings,
} from '../../src/settings';

function reader(values: Record<string, unknown>) {
  return { get: <T>(key: string): T | undefined => values[key] as T | undefined };
}

test('defaults when nothing is configured', () => {
  assert.deepEqual(toServerSettings(reader({})), DEFAULT_SETTINGS);
});

test('client-only settings never reach the server', () => {
  const settings = toServerSettings(reader({ serverPath: '/x/pyengineer', interpreter: '/usr/bin/python3', 'trace.server': 'verbose' }));
  const keys = Object.keys(settings);
  assert.ok(!keys.includes('serverPath'));
  assert.ok(!keys.includes('interpreter'));
  assert.ok(!keys.includes('trace'));
  assert.deepEqual(keys.sort(), Object.keys(DEFAULT_SETTINGS).sort());
});

test('values map to camelCase server settings with llm nested', () => {
  const settings = toServerSettings(
    reader({
      protectedBranches: ['main', 'release/*'],
      extendMlLibraries: ['mylib'],
      select: ['pe1', 'PE201'],
      ignore: ['PE3'],
      severity: { pe201: 'Info', PE101: 'error', PE999: 'loud' },
      handoffDir: 'notes/handoffs',
      debounceMs: 300,
      typeHints: 'all',
      'llm.enabled': false,
      'llm.model': 'claude-other',
      'llm.maxToolRounds': 3,
      'llm.timeout': 30.5,
      'llm.baseUrl': 'http://127.0.0.1:9999',
    }),
  );
  assert.deepEqual(settings.protectedBranches, ['main', 'release/*']);
  assert.deepEqual(settings.extendMlLibraries, ['mylib']);
  assert.deepEqual(settings.select, ['PE1', 'PE201']);
  assert.deepEqual(settings.ignore, ['PE3']);
  assert.deepEqual(settings.severity, { PE201: 'info', PE101: 'error' });
  assert.equal(settings.handoffDir, 'notes/handoffs');
  assert.equal(settings.debounceMs, 300);
  assert.equal(settings.typeHints, 'all');
  assert.deepEqual(settings.llm, {
    enabled: false,
    model: 'claude-other',
    maxToolRounds: 3,
    maxOutputTokens: 16000,
    tokenBudget: 200000,
    timeout: 30.5,
    baseUrl: 'http://127.0.0.1:9999',
  });
});

test('invalid values fall back to defaults instead of reaching the server', () => {
  const settings = toServerSettings(
    reader({
      protectedBranches: 'main',
      debounceMs: -5,
      typeHints: 'some',
      handoffDir: '   ',
      'llm.maxOutputTokens': 0,
      'llm.baseUrl': '',
      mlLibraries: ['torch', 3, ' jax '],
    }),
  );
  assert.deepEqual(settings.protectedBranches, DEFAULT_SETTINGS.protectedBranches);
  assert.equal(settings.debounceMs, 0);
  assert.equal(settings.typeHints, 'public');
  assert.equal(settings.handoffDir, 'docs/handoffs');
  assert.equal(settings.llm.maxOutputTokens, 16000);
  assert.equal(settings.llm.baseUrl, null);
  assert.deepEqual(settings.mlLibraries, ['torch', 'jax']);
});

test('defaults match the contributed configuration in package.json', async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8'));
  const properties = manifest.contributes.configuration.properties as Record<string, { default: unknown }>;
  const fromManifest = reader(
    Object.fromEntries(Object.entries(properties).map(([key, value]) => [key.replace(/^pyengineer\./, ''), value.default])),
  );
  assert.deepEqual(toServerSettings(fromManifest), DEFAULT_SETTINGS);
  for (const key of Object.keys(DEFAULT_SETTINGS)) {
    if (key !== 'llm') {
      assert.ok(`pyengineer.${key}` in properties, `pyengineer.${key} is contributed`);
    }
  }
  for (const key of Object.keys(DEFAULT_SETTINGS.llm)) {
    assert.ok(`pyengineer.llm.${key}` in properties, `pyengineer.llm.${key} is contributed`);
  }
});

test('only launch settings need a restart', () => {
  assert.equal(changeNeedsRestart((s) => s === 'pyengineer.serverPath'), true);
  assert.equal(changeNeedsRestart((s) => s === 'pyengineer.interpreter'), true);
  assert.equal(changeNeedsRestart((s) => s === 'pyengineer.protectedBranches'), false);
});

test('a machine setting written in User settings but not applied (a remote window) is reported', () => {
  const user = parseJsonc('{\n  // where pyengineer lives\n  "pyengineer.serverPath": "/opt/pe/bin/pyengineer", /* x */\n  "pyengineer.interpreter": "",\n}');
  assert.deepEqual(user, { 'pyengineer.serverPath': '/opt/pe/bin/pyengineer', 'pyengineer.interpreter': '' });
  // VS Code applied nothing: the remote window filtered the User value out.
  assert.deepEqual(shadowedUserSettings(user, () => ({})), ['pyengineer.serverPath']);
  // Applied (a local window, or the value is also in the Remote settings): nothing to say.
  assert.deepEqual(shadowedUserSettings(user, () => ({ globalValue: '/opt/pe/bin/pyengineer' })), []);
  assert.deepEqual(shadowedUserSettings(undefined, () => ({})), []);
  assert.equal(parseJsonc('not json'), undefined);
  const message = shadowedMessage(['pyengineer.serverPath']);
  assert.match(message, /pyengineer\.serverPath is set in your User settings but not applied/);
  assert.match(message, /Open Remote Settings \(JSON\)/);
  assert.equal(parseJsonc('{"a": "// not a comment", "b": "x\\"y"}')?.a, '// not a comment');
});
