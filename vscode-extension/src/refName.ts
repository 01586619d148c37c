/**
 * Git branch-name validation, following `git check-ref-format --branch` so the input box can say
 * what is wrong while the user types, before the server refuses it.
 */

// Space, ~ ^ : ? * [ \ and the ASCII control characters are never allowed in a ref name.
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\x00-\x20\x7f~^:?*[\\]/;

/** Returns why `name` is not a valid branch name, or undefined when it is valid. */
export function branchNameProblem(name: string): string | undefined {
  if (name.length === 0) {
    return 'Enter a branch name.';
  }
  const bad = FORBIDDEN.exec(name);
  if (bad) {
    const code = bad[0].charCodeAt(0);
    const shown = bad[0] === ' ' ? 'spaces' : code < 0x20 || code === 0x7f ? 'control characters' : `'${bad[0]}'`;
    return `A branch name cannot contain ${shown}.`;
  }
  if (name.startsWith('-')) {
    return "A branch name cannot start with '-'.";
  }
  if (name === '@') {
    return "'@' is not a valid branch name.";
  }
  if (name === 'HEAD') {
    return "'HEAD' is not a valid branch name.";
  }
  if (name.includes('..')) {
    return "A branch name cannot contain '..'.";
  }
  if (name.includes('@{')) {
    return "A branch name cannot contain '@{'.";
  }
  if (name.startsWith('/') || name.endsWith('/')) {
    return "A branch name cannot start or end with '/'.";
  }
  if (name.includes('//')) {
    return "A branch name cannot contain '//'.";
  }
  if (name.endsWith('.')) {
    return "A branch name cannot end with '.'.";
  }
  for (const part of name.split('/')) {
    if (part.startsWith('.')) {
      return "No part of a branch name may start with '.'.";
    }
    if (part.endsWith('.lock')) {
      return "No part of a branch name may end with '.lock'.";
    }
  }
  return undefined;
}

/** Whether `branch` matches one of the protected patterns (`*` matches within one path part, as in globs). */
export function isProtectedBranch(branch: string, patterns: readonly string[]): boolean {
  return patterns.some((pattern) => globToRegExp(pattern).test(branch));
}

function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const c = pattern[i];
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        source += '.*';
        i += 1;
      } else {
        source += '[^/]*';
      }
    } else if (c === '?') {
      source += '[^/]';
    } else {
      source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}
