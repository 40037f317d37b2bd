import { INestApplication } from '@nestjs/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { AppConfig, Clock, Env } from '@app/common';
import { createApp } from '@app/api/bootstrap';

export interface TestApp {
  app: INestApplication;
  config: AppConfig;
  baseUrl: string;
  wsUrl: string;
  dataDir: string;
  /** Every log line written so far (the app logs at debug level in tests). */
  logs: () => string;
  /** One key of each role. */
  keys: Record<'admin' | 'provisioner' | 'auditor' | 'mobile' | 'hardware', string>;
  close: (options?: { keepData?: boolean }) => Promise<void>;
}

/**
 * Boots the real AppModule on a real port (0 = any free one) with a temp DATA_DIR,
 * exactly as main.ts does, and captures the log output for assertions.
 */
export async function startTestApp(
  env: Env = {},
  options: { clock?: Clock } = {},
): Promise<TestApp> {
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'mdai-e2e-'));
  const chunks: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const { app, config } = await createApp(
    {
      NODE_ENV: 'test',
      LOG_LEVEL: 'debug',
      // suites send many requests from 127.0.0.1: limits are set high here, and the suites
      // that test the limiter set their own
      RATE_LIMIT_PER_IP: '1000000',
      RATE_LIMIT_PER_CREDENTIAL: '1000000',
      ...env,
      DATA_DIR: dataDir,
    },
    { logStream, clock: options.clock },
  );
  await app.listen(0, '127.0.0.1');
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
    keys: {
      admin: first('admin'),
      provisioner: first('provisioner'),
      auditor: first('auditor'),
      mobile: first('mobile'),
      hardware: first('hardware'),
    },
    close: async ({ keepData = false } = {}) => {
      await app.close();
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
