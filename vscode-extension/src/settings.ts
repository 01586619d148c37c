/**
 * Mapping between VS Code's `pyengineer.*` settings and the settings object the server expects.
 *
 * Pure: takes a configuration reader, so it is unit-tested without VS Code.
 */

/** The part of `vscode.WorkspaceConfiguration` this module needs. */
export interface ConfigurationReader {
  get<T>(section: string): T | undefined;
}

export type Severity = 'error' | 'warning' | 'info' | 'hint';

export interface LlmSettings {
  enabled: boolean;
  model: string;
  maxToolRounds: number;
  maxOutputTokens: number;
  tokenBudget: number;
  timeout: number;
  baseUrl: string | null;
}

/** The settings sent to the server (initializationOptions.settings and workspace/configuration "pyengineer"). */
export interface ServerSettings {
  protectedBranches: string[];
  mlLibraries: string[];
  extendMlLibraries: string[];
  select: string[];
  ignore: string[];
  severity: Record<string, Severity>;
  exclude: string[];
  handoffDir: string;
  debounceMs: number;
  typeHints: 'public' | 'all' | 'off';
  llm: LlmSettings;
}

/** Settings only the client reads; never sent to the server. */
export const CLIENT_ONLY_SETTINGS = ['serverPath', 'interpreter', 'trace.server'] as const;

export const DEFAULT_SETTINGS: ServerSettings = {
  protectedBranches: ['main', 'master', 'develop'],
  mlLibraries: [
    'torch', 'tensorflow', 'keras', 'jax', 'flax', 'sklearn', 'transformers', 'xgboost', 'lightgbm',
    'catboost', 'onnxruntime', 'diffusers', 'accelerate', 'peft', 'lightning', 'pytorch_lightning', 'tf_keras',
  ],
  extendMlLibraries: [],
  select: [],
  ignore: [],
  severity: {},
  exclude: [],
  handoffDir: 'docs/handoffs',
  debounceMs: 0,
  typeHints: 'public',
  llm: {
    enabled: true,
    model: 'claude-sonnet-5-5',
    maxToolRounds: 8,
    maxOutputTokens: 16000,
    tokenBudget: 200000,
    timeout: 120,
    baseUrl: null,
  },
};

const SEVERITIES: ReadonlySet<string> = new Set(['error', 'warning', 'info', 'hint']);
const TYPE_HINTS: ReadonlySet<string> = new Set(['public', 'all', 'off']);

function stringList(value: unknown, fallback: string[]): string[] {
  if (!Array.isArray(value)) {
    return [...fallback];
  }
  return value.filter((item): item is string => typeof item === 'string').map((item) => item.trim()).filter(Boolean);
}

function finiteNumber(value: unknown, fallback: number, min = 0): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= min ? value : fallback;
}

function integer(value: unknown, fallback: number, min = 0): number {
  return Math.round(finiteNumber(value, fallback, min));
}

function nonEmptyString(value: unknown, fallback: string): string {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : fallback;
}

function severityMap(value: unknown): Record<string, Severity> {
  const result: Record<string, Severity> = {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return result;
  }
  for (const [code, severity] of Object.entries(value as Record<string, unknown>)) {
    if (typeof severity === 'string' && SEVERITIES.has(severity.toLowerCase())) {
      result[code.trim().toUpperCase()] = severity.toLowerCase() as Severity;
    }
  }
  return result;
}

function ruleCodes(value: unknown): string[] {
  return stringList(value, []).map((code) => code.toUpperCase());
}

/** Build the server's settings object from `vscode.workspace.getConfiguration('pyengineer', scope)`. */
export function toServerSettings(config: ConfigurationReader): ServerSettings {
  const d = DEFAULT_SETTINGS;
  const typeHints = config.get<string>('typeHints');
  const baseUrl = config.get<string | null>('llm.baseUrl');
  return {
    protectedBranches: stringList(config.get('protectedBranches'), d.protectedBranches),
    mlLibraries: stringList(config.get('mlLibraries'), d.mlLibraries),
    extendMlLibraries: stringList(config.get('extendMlLibraries'), d.extendMlLibraries),
    select: ruleCodes(config.get('select')),
    ignore: ruleCodes(config.get('ignore')),
    severity: severityMap(config.get('severity')),
    exclude: stringList(config.get('exclude'), d.exclude),
    handoffDir: nonEmptyString(config.get('handoffDir'), d.handoffDir),
    debounceMs: integer(config.get('debounceMs'), d.debounceMs),
    typeHints: typeof typeHints === 'string' && TYPE_HINTS.has(typeHints) ? (typeHints as ServerSettings['typeHints']) : d.typeHints,
    llm: {
      enabled: typeof config.get('llm.enabled') === 'boolean' ? (config.get<boolean>('llm.enabled') as boolean) : d.llm.enabled,
      model: nonEmptyString(config.get('llm.model'), d.llm.model),
      maxToolRounds: integer(config.get('llm.maxToolRounds'), d.llm.maxToolRounds),
      maxOutputTokens: integer(config.get('llm.maxOutputTokens'), d.llm.maxOutputTokens, 1),
      tokenBudget: integer(config.get('llm.tokenBudget'), d.llm.tokenBudget),
      timeout: finiteNumber(config.get('llm.timeout'), d.llm.timeout, 1),
      baseUrl: typeof baseUrl === 'string' && baseUrl.trim() !== '' ? baseUrl.trim() : null,
    },
  };
}

/** True when a configuration change needs the server process restarted (not just re-read). */
export function changeNeedsRestart(affects: (section: string) => boolean): boolean {
  return affects('pyengineer.serverPath') || affects('pyengineer.interpreter');
}

/** The settings that name an executable: machine-overridable, so in a remote window only Remote settings count. */
export const MACHINE_SETTINGS = ['serverPath', 'interpreter'] as const;

/** What `WorkspaceConfiguration.inspect` says about one setting (the part this module needs). */
export interface InspectedValue {
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
}

/** settings.json is JSON with comments and trailing commas: enough of JSONC to read it, or undefined. */
export function parseJsonc(text: string): Record<string, unknown> | undefined {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') {
        out += text[++i] ?? '';
      } else if (c === '"') {
        inString = false;
      }
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') {
        i++;
      }
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      i = text.indexOf('*/', i + 2);
      if (i < 0) {
        break;
      }
      i++;
    } else {
      out += c;
    }
  }
  try {
    const value: unknown = JSON.parse(out.replace(/,(\s*[}\]])/g, '$1'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The machine settings set (non-empty) in the User settings file that VS Code did not apply: in a remote window
 * (Remote-SSH, WSL, Dev Containers, Codespaces, code-server) a machine-scoped value comes only from the Remote
 * settings, and `inspect` shows no value at all where the User file has one.
 */
export function shadowedUserSettings(
  userSettings: Record<string, unknown> | undefined,
  inspect: (key: string) => InspectedValue | undefined,
): string[] {
  if (!userSettings) {
    return [];
  }
  const shadowed: string[] = [];
  for (const key of MACHINE_SETTINGS) {
    const written = userSettings[`pyengineer.${key}`];
    if (typeof written !== 'string' || written.trim() === '') {
      continue;
    }
    const seen = inspect(key);
    const applied = [seen?.globalValue, seen?.workspaceValue, seen?.workspaceFolderValue].some(
      (v) => typeof v === 'string' && v.trim() !== '',
    );
    if (!applied) {
      shadowed.push(`pyengineer.${key}`);
    }
  }
  return shadowed;
}

/** The one message for shadowed settings: what happened and the fix. */
export function shadowedMessage(keys: string[]): string {
  const names = keys.join(' and ');
  const verb = keys.length === 1 ? 'is' : 'are';
  return (
    `pyengineer: ${names} ${verb} set in your User settings but not applied in this remote window ` +
    `(code-server, Remote-SSH, WSL, containers): ${keys.length === 1 ? 'it is a machine setting' : 'they are machine settings'}, ` +
    'read from the Remote settings. Put the value there (Preferences: Open Remote Settings (JSON)).'
  );
}
