import { ChildProcess, ChildProcessByStdio, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import type { Env } from '@app/common';
import { freePort } from './free-port';
import { storeEnv } from './test-app';

export { freePort };

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function killChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (exited(child)) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/**
 * A redis-server of the test's own on a free port (never the shared one on 6379): killed with
 * SIGKILL to play an outage, started again on the same port to play the recovery. Without
 * persistence (it comes back empty), or, given `snapshotDir`, with Redis's default snapshot
 * points (`save 3600 1 300 100 60 10000`, as the shipped redis:7-alpine) writing `dump.rdb`
 * there: started again, it loads the last snapshot (a SIGKILL writes none).
 */
export class PrivateRedis {
  private child?: ChildProcess;

  private constructor(
    readonly port: number,
    private readonly snapshotDir?: string,
    private readonly args: string[] = [],
  ) {}

  /** `args`: more redis-server options (`--maxmemory-policy allkeys-lru`). */
  static async start(
    options: { snapshotDir?: string; args?: string[] } = {},
  ): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), options.snapshotDir, options.args);
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  restart(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        ...(this.snapshotDir
          ? ['--dir', this.snapshotDir, '--dbfilename', 'dump.rdb']
          : ['--save', '']),
        '--appendonly',
        'no',
        ...this.args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    return new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('Ready to accept connections')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
    });
  }

  /** SIGSTOP: the connections stay open and nothing answers (a partition, a stuck host). */
  freeze(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async kill(): Promise<void> {
    if (this.child) await killChild(this.child);
  }
}

export interface ApiProcess {
  child: ChildProcess;
  baseUrl: string;
  wsUrl: string;
  alive: () => boolean;
  kill: () => Promise<void>;
  /**
   * The process's last output (stdout and stderr, interleaved as read; at most LOG_TAIL
   * characters): what a spec prints when it fails (its log is silent unless LOG_LEVEL is set).
   */
  output: () => string;
}

/** The characters of an API process's output kept for `ApiProcess.output`. */
const LOG_TAIL = 200_000;

/**
 * test/support/crash-server.ts in a process of its own, as `startApiProcess` starts it (its
 * output piped), for a test that watches it from before it listens.
 */
export function spawnApiProcess(
  env: Record<string, string>,
): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, ['-r', '@swc-node/register', 'test/support/crash-server.ts'], {
    cwd: join(__dirname, '..', '..'),
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      ...(env.DATA_DIR ? storeEnv(env.DATA_DIR) : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/**
 * The whole API in a process of its own (test/support/crash-server.ts), on a free port; on
 * the store of a test app with the same DATA_DIR (its MongoDB database under test:mongo).
 */
export function startApiProcess(env: Record<string, string>): Promise<ApiProcess> {
  const child = spawnApiProcess(env);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    let tail = '';
    const keep = (c: Buffer) => {
      tail += c.toString();
      if (tail.length > 2 * LOG_TAIL) tail = tail.slice(-LOG_TAIL);
    };
    child.stderr.on('data', (c: Buffer) => {
      if (err.length < LOG_TAIL) err += c.toString();
      keep(c);
    });
    let listening = false;
    child.stdout.on('data', (c: Buffer) => {
      keep(c);
      if (listening) return;
      out += c.toString();
      const match = /listening (\d+)/.exec(out);
      if (match) {
        listening = true;
        resolve({
          child,
          baseUrl: `http://127.0.0.1:${match[1]}`,
          wsUrl: `ws://127.0.0.1:${match[1]}`,
          alive: () => !exited(child),
          kill: () => killChild(child),
          output: () => tail.slice(-LOG_TAIL),
        });
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${err}`)));
  });
}

const execFileAsync = promisify(execFile);

/**
 * `npm run <script> -- <args>` (scripts/<script>.ts) on the store of `dataDir`, as an operator
 * runs it, `env` added: its exit code and output (a failed exit is returned, not thrown).
 */
export async function runScript(
  script: string,
  dataDir: string,
  args: string[] = [],
  env: Env = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const done = await execFileAsync(
      process.execPath,
      ['-r', '@swc-node/register', `scripts/${script}.ts`, ...args],
      {
        cwd: join(__dirname, '..', '..'),
        env: { ...process.env, ...storeEnv(dataDir), DATA_DIR: dataDir, ...env },
      },
    );
    return { code: 0, ...done };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
