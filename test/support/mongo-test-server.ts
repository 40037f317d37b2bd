import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** Debian's interpreter: python3-mongomock and python3-pymongo are installed for it. */
const PYTHON = process.env.MONGO_TEST_SERVER_PYTHON ?? '/usr/bin/python3';
const SERVER = join(__dirname, '..', 'mongo-server', 'server.py');
const READY_TIMEOUT_MS = 15_000;

export interface MongoTestServer {
  /** `mongodb://127.0.0.1:<port>/` (add a database with the driver's `dbName`). */
  uri: string;
  /** Stops this server process (and only it). */
  stop(): Promise<void>;
  /** SIGSTOP: its connections stay open and nothing answers (a partition, a stuck host). */
  freeze(): void;
  resume(): void;
}

/**
 * Whether this machine can run the test server: Debian's python3 with python3-mongomock and
 * python3-pymongo (`.ci/run` installs them).
 */
export function mongoTestServerAvailable(): boolean {
  const probe = spawnSync(PYTHON, ['-c', 'import mongomock, pymongo, bson'], { stdio: 'ignore' });
  return probe.status === 0;
}

/**
 * Starts the MongoDB wire-protocol test server (test/mongo-server/server.py, mongomock behind
 * OP_MSG) on a free 127.0.0.1 port and resolves once it accepts connections.
 */
export function startMongoTestServer(): Promise<MongoTestServer> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SERVER, '--host', '127.0.0.1', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
      reject(error);
    };
    const timer = setTimeout(
      () =>
        fail(new Error(`MongoDB test server not ready after ${READY_TIMEOUT_MS} ms: ${stderr}`)),
      READY_TIMEOUT_MS,
    );
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
    });
    child.once('error', (error) => fail(new Error(`cannot start ${PYTHON}: ${error.message}`)));
    child.once('exit', (code) =>
      fail(new Error(`MongoDB test server exited (${code}) before it was ready: ${stderr}`)),
    );
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const match = /listening (\d+)/.exec(stdout);
      if (!match || settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout.removeAllListeners('data');
      child.stdout.resume();
      resolve({
        uri: `mongodb://127.0.0.1:${match[1]}/`,
        stop: () => stopChild(child),
        freeze: () => child.kill('SIGSTOP'),
        resume: () => child.kill('SIGCONT'),
      });
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
