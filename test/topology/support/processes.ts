import { ChildProcess, spawn, SpawnOptions } from 'node:child_process';
import { freePort } from '../../support/free-port';

export { freePort };

/**
 * A child process this test started, its output kept for diagnostics. `stop()` ends exactly
 * this process (SIGTERM, then SIGKILL after a grace period), never anything by name.
 */
export class Service {
  private output = '';
  private exited: Promise<number | null>;
  exitCode: number | null | undefined = undefined;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    private readonly detached: boolean,
  ) {
    const keep = (chunk: Buffer) => {
      this.output += chunk.toString('utf8');
      if (this.output.length > 400_000) this.output = this.output.slice(-200_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        resolve(code);
      });
      child.on('error', (error) => {
        this.output += `\n[spawn error] ${error.message}\n`;
        this.exitCode = -1;
        resolve(-1);
      });
    });
  }

  /**
   * `detached: true` puts the command in a process group of its own (for `npm start`, whose
   * shell does not pass signals on); `stop()` then signals that group, which is still only
   * what this test started.
   */
  static start(name: string, command: string, args: string[], options: SpawnOptions): Service {
    return new Service(
      name,
      spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] }),
      options.detached === true,
    );
  }

  logs(): string {
    return this.output;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Resolves with the exit code when the process ends by itself. */
  wait(): Promise<number | null> {
    return this.exited;
  }

  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    const group = this.detached;
    const signal = (name: NodeJS.Signals) => {
      try {
        if (group && this.child.pid) process.kill(-this.child.pid, name);
        else this.child.kill(name);
      } catch {
        // already gone
      }
    };
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Polls until `ready()` answers true, the service exits, or `limitMs` passes (a bound on a
 * hang, not a speed assertion). Errors name the service and end with its output.
 */
export async function waitUntil(
  service: Service | undefined,
  what: string,
  ready: () => Promise<boolean>,
  limitMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    if (service && !service.running) {
      throw new Error(
        `${service.name} exited (${service.exitCode}) before ${what}:\n${service.logs()}`,
      );
    }
    try {
      if (await ready()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) {
      throw new Error(`${what}: not ready after ${limitMs} ms\n${service?.logs() ?? ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Waits for an HTTP GET on `url` to answer `status` (200 by default). */
export function waitForHttp(
  service: Service | undefined,
  url: string,
  status = 200,
  limitMs?: number,
) {
  return waitUntil(
    service,
    `GET ${url} → ${status}`,
    async () => (await fetch(url, { signal: AbortSignal.timeout(5000) })).status === status,
    limitMs,
  );
}

/** Runs a command to completion and answers its exit code and combined output. */
export function run(
  command: string,
  args: string[],
  options: SpawnOptions = {},
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr?.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.on('error', (error) => resolve({ code: -1, output: `${output}\n${error.message}` }));
    child.on('close', (code) => resolve({ code, output }));
  });
}
