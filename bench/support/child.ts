import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** A helper process run with `node --expose-gc -r @swc-node/register`; talks in lines over stdio. */
export class BenchChild {
  private readonly lines: string[] = [];
  private wake?: () => void;

  private constructor(readonly proc: ChildProcess) {
    // BENCH_CHILD_ECHO=1: every line a child prints goes to stderr too, after its pid (what
    // node options such as `--trace-gc` print on stdout)
    const echo = process.env.BENCH_CHILD_ECHO === '1';
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (echo) process.stderr.write(`[child ${proc.pid}] ${line}\n`);
      this.lines.push(line);
      this.wake?.();
    });
    proc.stderr!.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  }

  static start(
    script: string,
    args: string[] = [],
    env: NodeJS.ProcessEnv = {},
    launcher: string[] = [],
  ): BenchChild {
    return BenchChild.startIn(join(__dirname, '..', '..'), script, args, env, launcher);
  }

  /**
   * `start` in another checkout (`root`), e.g. an older build to compare with. `launcher`: a
   * command that runs node (e.g. `valgrind …`), `nodeArgs`: extra options for node.
   */
  static startIn(
    root: string,
    script: string,
    args: string[] = [],
    env: NodeJS.ProcessEnv = {},
    launcher: string[] = [],
    nodeArgs: string[] = [],
  ): BenchChild {
    const command = [
      ...launcher,
      process.execPath,
      ...nodeArgs,
      '--expose-gc',
      '-r',
      '@swc-node/register',
      join(root, 'bench', script),
      ...args,
    ];
    const proc = spawn(command[0], command.slice(1), {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new BenchChild(proc);
  }

  /**
   * A plain `node <script>` (no `--expose-gc`, no TypeScript hook: what production runs), from
   * `root`'s bench folder.
   */
  static startPlain(
    root: string,
    script: string,
    env: NodeJS.ProcessEnv = {},
    nodeArgs: string[] = [],
  ): BenchChild {
    const proc = spawn(process.execPath, [...nodeArgs, join(root, 'bench', script)], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new BenchChild(proc);
  }

  /** The next line starting with `prefix` (its rest). */
  async expect(prefix: string, timeoutMs = 300_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.lines.findIndex((l) => l.startsWith(prefix));
      if (index >= 0) return this.lines.splice(index, 1)[0].slice(prefix.length).trim();
      if (this.proc.exitCode !== null)
        throw new Error(`child exited (${this.proc.exitCode}) before ${prefix}`);
      if (Date.now() > deadline) throw new Error(`no ${prefix} from child`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 100);
      });
    }
  }

  send(line: string): void {
    this.proc.stdin!.write(`${line}\n`);
  }

  /** Heap and RSS after a full GC, in bytes. */
  async memory(): Promise<{ rss: number; heapUsed: number }> {
    this.send('mem');
    return JSON.parse(await this.expect('MEM')) as { rss: number; heapUsed: number };
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.proc.exitCode !== null) return resolve();
      this.proc.once('exit', () => resolve());
      this.proc.kill('SIGTERM');
      setTimeout(() => this.proc.kill('SIGKILL'), 10_000).unref();
    });
  }
}

/**
 * In a child: answer `mem` on stdin with `MEM {rss, heapUsed}` after GC; any other line goes
 * to `other`.
 */
export function answerMemoryRequests(other?: (line: string) => void): void {
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() !== 'mem') return other?.(line.trim());
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    gc?.();
    setTimeout(() => {
      const { rss, heapUsed } = process.memoryUsage();
      process.stdout.write(`MEM ${JSON.stringify({ rss, heapUsed })}\n`);
    }, 200);
  });
  process.stdin.on('end', () => process.exit(0));
}
