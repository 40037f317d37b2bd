import { INestApplication, Logger } from '@nestjs/common';
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Clock, Env } from '@app/common';
import { AppConfig } from '@app/api/config/app-config';
import { createApp } from '@app/api/bootstrap';
import { MongoStore, SqliteStore, Store } from '@app/persistence';

/**
 * The store every e2e test app runs on: SQLite in its DATA_DIR, or MongoDB when MONGODB_URI is
 * set (`npm run test:mongo`, or a real mongod), each app on its own database.
 */
export const MONGODB_URI = process.env.MONGODB_URI;
export const e2eDriver: 'sqlite' | 'mongo' = MONGODB_URI ? 'mongo' : 'sqlite';

/**
 * The jest timeout (ms) for one of the few heavy e2e tests (thousands of chained appends):
 * `ms` on SQLite, four times that on MongoDB, where the test server scans in Python. Not an
 * assertion on speed: only how long jest waits before calling the test hung.
 */
export function slowOnMongo(ms: number): number {
  return MONGODB_URI ? ms * 4 : ms;
}

/**
 * The DATABASE_URL of the app whose data lives in `dataDir` on MONGODB_URI: one database per
 * data dir, so an app restarted on the same DATA_DIR finds its data again.
 */
export function mongoDatabaseUrl(dataDir: string): string {
  const url = new URL(MONGODB_URI!);
  url.pathname = `/mdai_e2e_${createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}`;
  return url.toString();
}

/**
 * Drops the MongoDB database of the apps whose data lives in `dataDir` (`mongoDatabaseUrl`):
 * for tests that pass DATA_DIR, whose close() keeps the store. On SQLite, nothing to do.
 */
export async function dropMongoDatabaseOf(dataDir: string): Promise<void> {
  if (!MONGODB_URI) return;
  // mongoose is loaded only when a MongoDB run happens
  const mongoose = await import('mongoose');
  const connection = mongoose.createConnection(mongoDatabaseUrl(dataDir), {
    serverSelectionTimeoutMS: 5000,
  });
  try {
    await connection.asPromise();
    await connection.dropDatabase();
  } finally {
    await connection.close();
  }
}

/** The secrets an app outside production wrote to its DATA_DIR (`secrets.json`): its keys. */
export const secretsOf = (dataDir: string): Record<string, string> =>
  JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8')) as Record<string, string>;

/** The store env for an app on `dataDir`: `{}` on SQLite, its DATABASE_URL on MongoDB. */
export function storeEnv(dataDir: string): Env {
  return MONGODB_URI ? { DATABASE_URL: mongoDatabaseUrl(dataDir) } : {};
}

/**
 * `it` for a test that reads or writes the SQLite file directly: skipped, and saying so, when
 * the e2e suite runs on MongoDB.
 */
export const itOnSqliteFile: jest.It = MONGODB_URI
  ? (((name: string, ...rest: unknown[]) =>
      (it.skip as (...a: unknown[]) => void)(
        `${name} (reads the SQLite file: skipped on MongoDB)`,
        ...rest,
      )) as unknown as jest.It)
  : it;

/**
 * `it` for a test whose fault the MongoDB test server cannot build (`why`): skipped, and
 * saying so, when the e2e suite runs on it.
 */
export const itOffTestMongo = (why: string): jest.It =>
  MONGODB_URI
    ? (((name: string, ...rest: unknown[]) =>
        (it.skip as (...a: unknown[]) => void)(
          `${name} (${why}: skipped on MongoDB)`,
          ...rest,
        )) as unknown as jest.It)
    : it;

/**
 * `it` for a test of something only MongoDB stores (a day's `basis`, say): skipped, and saying
 * so, when the e2e suite runs on SQLite, where it would pass without checking anything.
 */
export const itOnMongo: jest.It = MONGODB_URI
  ? it
  : (((name: string, ...rest: unknown[]) =>
      (it.skip as (...a: unknown[]) => void)(
        `${name} (MongoDB only: skipped on SQLite)`,
        ...rest,
      )) as unknown as jest.It);

export interface TestApp {
  app: INestApplication;
  config: AppConfig;
  baseUrl: string;
  wsUrl: string;
  dataDir: string;
  /** Every log line written so far (the app logs at debug level in tests). */
  logs: () => string;
  /** Runs `work` as this app's own (a job of its): what it logs lands in this app's lines. */
  inScope: <T>(work: () => T) => T;
  /** One key of each role. */
  keys: Record<'admin' | 'provisioner' | 'auditor' | 'mobile' | 'hardware', string>;
  close: (options?: { keepData?: boolean }) => Promise<void>;
}

/**
 * The log lines of the test app whose work is running: its start, its close, and what they
 * set going (timers, sockets, requests) run in its scope.
 *
 * Why: Nest's `Logger` (what the code logs through) has one logger per process, the last
 * started app's, so a line another app logs outside a request (a background job's, its close's)
 * would reach the last app's pino and stream. Each app's stream puts a line in the lines of the
 * app whose scope is running, its own when none is (test code calling into an app directly,
 * for instance).
 */
const appLogScope = new AsyncLocalStorage<string[]>();

/** A call Nest's `Logger` holds back while an app starts, made when the start ends. */
interface BufferedLogCall {
  methodRef: (...args: unknown[]) => unknown;
  arguments: unknown[];
}

/**
 * While an app starts (`bufferLogs`), Nest's `Logger` holds back every line of the process, any
 * app's, and writes them all when that start ends, in the starting app's scope: a line another
 * app logged meanwhile (its background job's, a request it served) would land in the starting
 * app's lines. Each held-back call is bound to the scope it was made in, so it is written there.
 * Nest keeps them in `Logger.logBuffer` (pushed to, replaced when written): each array put
 * there binds what is pushed to it.
 */
function writeHeldBackLinesInTheirScope(): void {
  const logger = Logger as unknown as { logBuffer: BufferedLogCall[] };
  const binding = (calls: BufferedLogCall[]): BufferedLogCall[] => {
    const push = calls.push;
    calls.push = (...added: BufferedLogCall[]) =>
      push.apply(
        calls,
        added.map((call) => ({ ...call, methodRef: AsyncResource.bind(call.methodRef) })),
      );
    return calls;
  };
  let held = binding(logger.logBuffer);
  Object.defineProperty(Logger, 'logBuffer', {
    configurable: true,
    get: () => held,
    set: (calls: BufferedLogCall[]) => (held = binding(calls)),
  });
}
writeHeldBackLinesInTheirScope();

/**
 * Boots the real AppModule on a real port (0 = any free one) with a temp DATA_DIR,
 * exactly as main.ts does, and captures the log output for assertions.
 */
export async function startTestApp(
  env: Env = {},
  options: {
    clock?: Clock;
    /**
     * Sets the HTTP server's own bounds before it listens (`headersTimeout`, `requestTimeout`,
     * `connectionsCheckingInterval`, read when it starts listening): Node's defaults at a test's
     * scale, seconds where production has minutes.
     */
    server?: (server: Server & { connectionsCheckingInterval: number }) => void;
  } = {},
): Promise<TestApp> {
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'mdai-e2e-'));
  const chunks: string[] = [];
  // pino writes a line synchronously, in the scope of the code that logs it
  const logStream = { write: (line: string) => (appLogScope.getStore() ?? chunks).push(line) };
  const inScope = <T>(work: () => T): T => appLogScope.run(chunks, work);
  const { app, config } = await inScope(async () => {
    const created = await createApp(
      {
        NODE_ENV: 'test',
        LOG_LEVEL: 'debug',
        // suites send many requests from 127.0.0.1: limits are set high here, and the suites
        // that test the limiter set their own
        RATE_LIMIT_PER_IP: '1000000',
        RATE_LIMIT_PER_CREDENTIAL: '1000000',
        ...storeEnv(dataDir),
        ...env,
        DATA_DIR: dataDir,
      },
      { logStream, clock: options.clock },
    );
    options.server?.(
      created.app.getHttpServer() as Server & { connectionsCheckingInterval: number },
    );
    await created.app.listen(0, '127.0.0.1');
    return created;
  });
  const address = app.getHttpServer().address() as { port: number };
  const baseUrl = `http://127.0.0.1:${address.port}`;
  const first = (role: keyof AppConfig['auth']['apiKeys']) => config.auth.apiKeys[role][0];
  return {
    app,
    config,
    baseUrl,
    wsUrl: `ws://127.0.0.1:${address.port}`,
    dataDir,
    logs: () => chunks.join(''),
    inScope,
    keys: {
      admin: first('admin'),
      provisioner: first('provisioner'),
      auditor: first('auditor'),
      mobile: first('mobile'),
      hardware: first('hardware'),
    },
    close: async ({ keepData = false } = {}) => {
      if (!keepData && !env.DATA_DIR && config.database.driver === 'mongo') await dropDatabase(app);
      await inScope(() => app.close());
      if (!keepData && !env.DATA_DIR) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** A small fetch wrapper: JSON in, JSON (or text) out. */
export async function http<T = any>(
  baseUrl: string,
  method: string,
  path: string,
  options: {
    body?: unknown;
    rawBody?: string | Buffer;
    headers?: Record<string, string>;
    key?: string;
  } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers['x-api-key'] = options.key;
  let body: string | Buffer | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: parsed as T };
}

async function dropDatabase(app: INestApplication): Promise<void> {
  const store = app.get(Store);
  if (store instanceof MongoStore) await store.connection.dropDatabase();
}

/**
 * One stored row by id, read from the store the app runs on (the SQLite table's columns, or
 * the MongoDB document's fields), for tests that check what was persisted.
 */
export async function storeRow(
  t: TestApp,
  table: string,
  id: string,
): Promise<Record<string, any>> {
  const store = t.app.get(Store);
  if (store instanceof MongoStore) {
    const doc = await store.connection.collection(table).findOne({ _id: id as never });
    if (!doc) throw new Error(`no ${table} document ${id}`);
    return doc;
  }
  const row = (store as SqliteStore).db.prepare(`SELECT * FROM ${table} WHERE id = ?`).get(id);
  if (!row) throw new Error(`no ${table} row ${id}`);
  return row as Record<string, any>;
}

/**
 * Overwrites fields of one stored row by id behind the app's back (a clock moved, a row
 * tampered with): `sqlite` names columns, `mongo` names document fields.
 */
export async function storeSet(
  t: TestApp,
  table: string,
  id: string,
  values: { sqlite: Record<string, string | number | null>; mongo: Record<string, unknown> },
): Promise<void> {
  const store = t.app.get(Store);
  if (store instanceof MongoStore) {
    const result = await store.connection
      .collection(table)
      .updateOne({ _id: id as never }, { $set: values.mongo });
    if (result.matchedCount !== 1) throw new Error(`no ${table} document ${id}`);
    return;
  }
  const columns = Object.keys(values.sqlite);
  const result = (store as SqliteStore).db
    .prepare(`UPDATE ${table} SET ${columns.map((c) => `${c} = ?`).join(', ')} WHERE id = ?`)
    .run(...Object.values(values.sqlite), id);
  if (result.changes !== 1) throw new Error(`no ${table} row ${id}`);
}

/**
 * Everything the store holds, as bytes: the SQLite files (WAL included), or every MongoDB
 * collection of the app's database as JSON. For "never stored" checks.
 */
export async function storeDump(t: TestApp): Promise<Buffer> {
  const store = t.app.get(Store);
  if (store instanceof MongoStore) {
    const db = store.connection.db!;
    const parts: string[] = [];
    for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
      parts.push(name, JSON.stringify(await db.collection(name).find({}).toArray()));
    }
    return Buffer.from(parts.join('\n'));
  }
  (store as SqliteStore).db.pragma('wal_checkpoint(PASSIVE)');
  const files = readdirSync(t.dataDir).filter((f) => f.startsWith('mdai.sqlite'));
  return Buffer.concat(files.map((f) => readFileSync(join(t.dataDir, f))));
}

/**
 * `describe` for two replicas of the production topology: two apps on one store (one
 * DATA_DIR, so one MongoDB database), started before the suite's tests and closed after.
 * Skipped, and saying so, on SQLite (an SQLite file has one process). `replicas()` gives the
 * two apps once started.
 */
export function describeReplicas(
  title: string,
  body: (replicas: () => { a: TestApp; b: TestApp }) => void,
  options: { clock?: Clock } = {},
): void {
  const run = MONGODB_URI ? describe : describe.skip;
  run(
    `${title}${MONGODB_URI ? '' : ' (skipped: needs MONGODB_URI; an SQLite file has one process)'}`,
    () => {
      let dataDir: string;
      let a: TestApp | undefined;
      let b: TestApp | undefined;
      beforeAll(async () => {
        dataDir = mkdtempSync(join(tmpdir(), 'mdai-replicas-'));
        a = await startTestApp({ DATA_DIR: dataDir }, options);
        b = await startTestApp({ DATA_DIR: dataDir }, options);
      });
      afterAll(async () => {
        const store = a?.app.get(Store);
        if (store instanceof MongoStore) await store.connection.dropDatabase();
        await b?.close();
        await a?.close();
        rmSync(dataDir, { recursive: true, force: true });
      });
      body(() => ({ a: a!, b: b! }));
    },
  );
}

/**
 * Calls `probe` every 100 ms until `done` accepts its answer or `withinMs` has passed, and
 * returns the last answer (the caller asserts on it: a deadline passed fails there). The
 * default is generous: a bound on a hang, met in seconds by a loaded machine.
 */
export async function pollUntil<T>(
  probe: () => Promise<T>,
  done: (answer: T) => boolean,
  withinMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const answer = await probe();
    if (done(answer) || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A sample of the API's /metrics (a gauge without labels, or with the labels given). */
export async function gauge(baseUrl: string, sample: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  if (!line) throw new Error(`${sample} is not in /metrics`);
  return Number(line.slice(sample.length + 1));
}
