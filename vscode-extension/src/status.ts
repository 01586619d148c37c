/**
 * The `pyengineer/status` notification and how the status bar shows it. Pure, unit-tested.
 */

export interface LlmStatus {
  enabled: boolean;
  available: boolean;
  reason: string;
  model: string;
}

export interface PyengineerStatus {
  workspace: string;
  root: string;
  branch: string | null;
  detached: boolean;
  head: string | null;
  protected: boolean;
  pythonProject: boolean;
  packageManager: string | null;
  frameworks: string[];
  mlFileCount: number;
  llm: LlmStatus;
  usage: Record<string, unknown> | null;
  /** How changes made outside the editor are seen: inotify, native, polling, waiting or off. */
  watching: string;
  /** Why watching is degraded (the inotify limits were reached), or null. */
  watchProblem: string | null;
}

export interface StatusPresentation {
  /** Status bar text, with codicons. */
  text: string;
  /** Markdown tooltip. */
  tooltip: string;
  /** Show the warning background (editing a protected branch). */
  warning: boolean;
}

/** Accepts whatever the server sent and returns a well-formed status, or undefined if it is not one. */
export function parseStatus(value: unknown): PyengineerStatus | undefined {
  if (value === null || typeof value !== 'object') {
    return undefined;
  }
  const v = value as Record<string, unknown>;
  if (typeof v.workspace !== 'string') {
    return undefined;
  }
  const llm = (v.llm !== null && typeof v.llm === 'object' ? v.llm : {}) as Record<string, unknown>;
  return {
    workspace: v.workspace,
    root: typeof v.root === 'string' ? v.root : '',
    branch: typeof v.branch === 'string' ? v.branch : null,
    detached: v.detached === true,
    head: typeof v.head === 'string' ? v.head : null,
    protected: v.protected === true,
    pythonProject: v.pythonProject === true,
    packageManager: typeof v.packageManager === 'string' ? v.packageManager : null,
    frameworks: Array.isArray(v.frameworks) ? v.frameworks.filter((f): f is string => typeof f === 'string') : [],
    mlFileCount: typeof v.mlFileCount === 'number' ? v.mlFileCount : 0,
    llm: {
      enabled: llm.enabled === true,
      available: llm.available === true,
      reason: typeof llm.reason === 'string' ? llm.reason : '',
      model: typeof llm.model === 'string' ? llm.model : '',
    },
    usage: v.usage !== null && typeof v.usage === 'object' ? (v.usage as Record<string, unknown>) : null,
    watching: typeof v.watching === 'string' ? v.watching : 'off',
    watchProblem: typeof v.watchProblem === 'string' ? v.watchProblem : null,
  };
}

/** The status bar's word for a degraded watch, or undefined when watching works as it should. */
function watchLabel(status: PyengineerStatus): string | undefined {
  if (status.watching === 'polling') {
    return 'polling';
  }
  if (status.watching === 'waiting') {
    return 'folder missing';
  }
  return undefined;
}

/** The name shown for where HEAD is: the branch, a short commit when detached, or a note when unborn. */
export function headLabel(status: PyengineerStatus): string {
  if (status.detached) {
    return status.head ? `detached at ${status.head.slice(0, 8)}` : 'detached HEAD';
  }
  if (status.branch) {
    return status.branch;
  }
  return 'no git repository';
}

function llmLabel(llm: LlmStatus): string {
  if (!llm.enabled) {
    return 'off';
  }
  return llm.available ? 'on' : 'unavailable';
}

function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');
}

/**
 * The status bar shows what only pyengineer knows: whether the branch is protected, the ML files, the LLM.
 * The branch name itself is VS Code's own Git item, right beside ours; the tooltip still names it.
 */
export function presentStatus(status: PyengineerStatus): StatusPresentation {
  const parts: string[] = [];
  if (status.protected) {
    parts.push('$(shield) protected');
  }
  if (status.mlFileCount > 0) {
    parts.push(`$(beaker) ${status.mlFileCount} ML`);
  }
  parts.push(`$(sparkle) LLM ${llmLabel(status.llm)}`);
  const watch = watchLabel(status);
  if (watch) {
    parts.push(`$(eye-closed) ${watch}`);
  }

  const lines = [
    `**pyengineer** — ${escapeMarkdown(status.root || status.workspace)}`,
    '',
    `- Branch: ${escapeMarkdown(headLabel(status))}${status.protected ? ' (protected: create a feature branch before editing)' : ''}`,
    `- Python project: ${status.pythonProject ? 'yes' : 'no'}${status.packageManager ? `, ${escapeMarkdown(status.packageManager)}` : ''}`,
  ];
  if (status.frameworks.length > 0) {
    lines.push(`- Frameworks: ${status.frameworks.map(escapeMarkdown).join(', ')}`);
  }
  lines.push(`- ML files: ${status.mlFileCount}`);
  const llmDetail = status.llm.reason ? ` (${escapeMarkdown(status.llm.reason)})` : '';
  lines.push(`- LLM: ${llmLabel(status.llm)}${status.llm.model ? `, ${escapeMarkdown(status.llm.model)}` : ''}${llmDetail}`);
  if (watch) {
    lines.push(`- Watching: ${watch}${status.watchProblem ? ` (${escapeMarkdown(status.watchProblem)})` : ''}`);
  }
  lines.push('', 'Click to show the project context.');
  return { text: parts.join('  '), tooltip: lines.join('\n'), warning: status.protected };
}

/** Picks the status for the workspace folder containing `documentUri` (longest matching folder URI wins). */
export function statusFor(
  statuses: ReadonlyMap<string, PyengineerStatus>,
  documentUri: string | undefined,
): PyengineerStatus | undefined {
  let best: PyengineerStatus | undefined;
  for (const [workspace, status] of statuses) {
    const prefix = workspace.endsWith('/') ? workspace : `${workspace}/`;
    if (documentUri !== undefined && (documentUri === workspace || documentUri.startsWith(prefix))) {
      if (best === undefined || workspace.length > best.workspace.length) {
        best = status;
      }
    }
  }
  if (best === undefined && statuses.size > 0) {
    // No active document in a known workspace: show the first (single-folder workspaces are the common case).
    best = statuses.values().next().value;
  }
  return best;
}
