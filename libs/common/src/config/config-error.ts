/** One setting that is missing or invalid: the variable and what is wrong, never its value. */
export interface ConfigProblem {
  variable: string;
  reason: string;
}

/**
 * Settings that are missing or invalid at boot: every one found, so an operator fixes them in
 * one go. The message names each variable and never its value; `variable` is the first one.
 */
export class ConfigError extends Error {
  readonly variable: string;
  readonly problems: readonly ConfigProblem[];

  constructor(variable: string, reason: string);
  constructor(problems: readonly ConfigProblem[]);
  constructor(first: string | readonly ConfigProblem[], reason?: string) {
    const problems = typeof first === 'string' ? [{ variable: first, reason: reason! }] : first;
    super(describe(problems));
    this.name = 'ConfigError';
    this.problems = problems;
    this.variable = problems[0].variable;
  }
}

/** `VAR: reason` for one; a count and one `VAR: reason` line each for more. */
function describe(problems: readonly ConfigProblem[]): string {
  const lines = problems.map(({ variable, reason }) => `${variable}: ${reason}`);
  if (lines.length === 1) return lines[0];
  return `${lines.length} settings are missing or invalid:\n  ${lines.join('\n  ')}`;
}

/**
 * Gathers the problems of a whole boot (each variable named once, the first reason kept), so
 * one ConfigError lists them all instead of the first only.
 */
export class ConfigProblems {
  private readonly found = new Map<string, string>();

  get list(): ConfigProblem[] {
    return [...this.found].map(([variable, reason]) => ({ variable, reason }));
  }

  has(variable: string): boolean {
    return this.found.has(variable);
  }

  add(problems: readonly ConfigProblem[]): void {
    for (const { variable, reason } of problems) {
      if (!this.found.has(variable)) this.found.set(variable, reason);
    }
  }

  /** Runs `read`; a ConfigError it throws is recorded and `undefined` answered instead. */
  attempt<T>(read: () => T): T | undefined {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      this.add(error.problems);
      return undefined;
    }
  }

  /** Throws one ConfigError naming every problem recorded, if there is any. */
  throwIfAny(): void {
    if (this.found.size > 0) throw new ConfigError(this.list);
  }
}
