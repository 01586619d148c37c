import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { test } from 'node:test';

import { branchNameProblem, isProtectedBranch } from '../../src/refName';

const VALID = ['feature/add-model', 'fix-1', 'user/jo/wip', 'a', 'release/1.2', 'x@y', 'caf\u00e9'];
const INVALID = [
  '', 'has space', 'a..b', 'a~b', 'a^b', 'a:b', 'a?b', 'a*b', 'a[b', 'a\\b', '/a', 'a/', 'a//b', 'a.', '.a', 'a/.b',
  'a.lock', 'a/b.lock/c', '@', 'a@{b', '-a', 'HEAD', 'tab\there', 'del\x7f',
];

test('accepts valid branch names', () => {
  for (const name of VALID) {
    assert.equal(branchNameProblem(name), undefined, name);
  }
});

test('rejects invalid branch names with a reason', () => {
  for (const name of INVALID) {
    const problem = branchNameProblem(name);
    assert.ok(problem, `${JSON.stringify(name)} should be rejected`);
    assert.match(problem, /branch name|not a valid|Enter a/);
  }
});

test('agrees with git check-ref-format --branch', () => {
  for (const name of [...VALID, ...INVALID]) {
    if (name === '' || name === 'HEAD' || name === '@') {
      continue; // with --branch, git expands '@' and HEAD to the current branch instead of judging the name
    }
    let gitAccepts = true;
    try {
      execFileSync('git', ['check-ref-format', '--branch', name], { stdio: 'ignore', cwd: tmpdir() });
    } catch {
      gitAccepts = false;
    }
    assert.equal(branchNameProblem(name) === undefined, gitAccepts, JSON.stringify(name));
  }
});

test('protected patterns are globs within one path part', () => {
  assert.ok(isProtectedBranch('main', ['main', 'master']));
  assert.ok(isProtectedBranch('release/1.0', ['release/*']));
  assert.ok(!isProtectedBranch('release/1.0/hotfix', ['release/*']));
  assert.ok(isProtectedBranch('release/1.0/hotfix', ['release/**']));
  assert.ok(!isProtectedBranch('feature/main', ['main']));
  assert.ok(!isProtectedBranch('mainline', ['main']));
  assert.ok(isProtectedBranch('v1.x', ['v?.x']));
  assert.ok(!isProtectedBranch('v1+x', ['v1.x']));
});
