/**
 * `npm run demo`: drives a RUNNING server through the flows that exist, step by step.
 * It starts nothing but the upstream stub it needs. Point it at a server with:
 *
 *   MDAI_URL=http://127.0.0.1:3000 DATA_DIR=./data npm run demo
 *
 * API keys come from the environment (ADMIN_API_KEYS, …) or from <DATA_DIR>/secrets.json,
 * where a local server keeps the ones it generated. The pairing flows need the server to reach
 * an identity API: a development server (`npm start`) points at http://127.0.0.1:4010 with the
 * key dev-upstream-key unless UPSTREAM_URL says otherwise, and the demo starts the upstream stub
 * there when nothing answers on that port. Give the demo the server's UPSTREAM_URL when it has
 * one: a local URL's port is where the stub starts (when nothing answers there), another host
 * means no stub (the server's own identity API answers); DEMO_UPSTREAM_PORT overrides both.
 * `npm run demo -- pairing legacy` runs only the named flows.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { flows } from './demo/flows';
import { DemoContext } from './demo/context';

const KEY_VARIABLES = {
  admin: 'ADMIN_API_KEYS',
  provisioner: 'PROVISIONER_API_KEYS',
  auditor: 'AUDITOR_API_KEYS',
  mobile: 'MOBILE_API_KEYS',
  hardware: 'HARDWARE_API_KEYS',
} as const;

interface LoadedKeys {
  keys: DemoContext['keys'];
  /** Where the keys came from, or why secrets.json gave none, for the error lines. */
  file: string;
  fileProblem?: string;
}

function loadKeys(dataDir: string): LoadedKeys {
  const file = join(dataDir, 'secrets.json');
  let stored: Record<string, string> = {};
  let fileProblem: string | undefined;
  try {
    stored = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    // keys must then come from the environment
    const code = (error as NodeJS.ErrnoException).code;
    fileProblem =
      code === 'ENOENT' ? `there is no ${file}` : `${file} cannot be read (${code ?? 'not JSON'})`;
  }
  const pick = (name: string) => (process.env[name] ?? stored[name] ?? '').split(',')[0].trim();
  const keys = {} as DemoContext['keys'];
  for (const [role, variable] of Object.entries(KEY_VARIABLES)) {
    keys[role as keyof typeof KEY_VARIABLES] = pick(variable);
  }
  return { keys, file, fileProblem };
}

/**
 * Fails with one clear line when the demo has no keys (DATA_DIR is not the server's) or when
 * the server refuses them, instead of flows that print "401, undefined kiosks".
 */
async function ensureKeys(ctx: DemoContext, loaded: LoadedKeys): Promise<void> {
  const fix =
    'set DATA_DIR to the data directory of the server you started (where it keeps ' +
    'secrets.json), or give its keys in ADMIN_API_KEYS and the other *_API_KEYS variables';
  const variables = Object.values(KEY_VARIABLES);
  if (Object.values(loaded.keys).every((key) => !key)) {
    const why = loaded.fileProblem ?? `${loaded.file} holds none of ${variables.join(', ')}`;
    throw new Error(`no API keys for the demo: ${why}, and the environment sets none: ${fix}`);
  }
  // a run of some flows may bring only the keys they need (HARDWARE_API_KEYS for legacy)
  if (!ctx.keys.admin) return;
  const whoami = await ctx.call('GET', '/api/whoami', { key: ctx.keys.admin });
  if (whoami.status === 401 || whoami.status === 403) {
    const from = process.env.ADMIN_API_KEYS ? 'ADMIN_API_KEYS' : loaded.file;
    throw new Error(
      `the server refused the admin key from ${from} (${whoami.status} ${whoami.body?.code}): ` +
        `it is not one of that server's keys; ${fix}`,
    );
  }
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Where the demo starts its upstream stub: DEMO_UPSTREAM_PORT; else the port of UPSTREAM_URL
 * when it names this machine, or undefined (`remote`) when it names another host (the server
 * calls that API, a stub here would answer nobody); else 4010, a development server's default.
 */
function upstreamStubPlace(env: NodeJS.ProcessEnv): { port: number } | { remote: string } {
  if (env.DEMO_UPSTREAM_PORT) return { port: Number(env.DEMO_UPSTREAM_PORT) };
  if (!env.UPSTREAM_URL) return { port: 4010 };
  let url: URL;
  try {
    url = new URL(env.UPSTREAM_URL);
  } catch {
    throw new Error(
      'UPSTREAM_URL is not a URL: give the identity API URL the server was started with',
    );
  }
  if (!LOCAL_HOSTS.has(url.hostname)) return { remote: url.origin };
  return { port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)) };
}

/** Starts scripts/upstream-stub.js where `upstreamStubPlace` says, unless something answers there. */
async function ensureUpstreamStub(): Promise<void> {
  const place = upstreamStubPlace(process.env);
  if ('remote' in place) {
    process.stdout.write(`(the identity API is ${place.remote}: no upstream stub started)\n`);
    return;
  }
  const { port } = place;
  try {
    await fetch(`http://127.0.0.1:${port}/health`);
    return;
  } catch {
    // nothing there: start ours
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const stub = require('./upstream-stub.js') as {
    startUpstreamStub: (o: { port: number; apiKey: string }) => Promise<{ unref: () => void }>;
  };
  const server = await stub.startUpstreamStub({
    port,
    apiKey: process.env.UPSTREAM_API_KEY ?? 'dev-upstream-key',
  });
  server.unref();
  process.stdout.write(`(started the upstream stub on port ${port})\n`);
}

/** Fails with one clear line when nothing answers at the API's URL (wrong port, not started). */
async function ensureApi(baseUrl: string): Promise<void> {
  try {
    await fetch(`${baseUrl}/health`);
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new Error(
      `no MDAI API answers at ${baseUrl} (${cause}): start it with \`npm start\`, or set MDAI_URL ` +
        '(and DATA_DIR) to the server you started',
    );
  }
}

async function main(): Promise<void> {
  const baseUrl = (process.env.MDAI_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
  const dataDir = resolve(process.env.DATA_DIR ?? './data');
  const loaded = loadKeys(dataDir);
  const ctx = new DemoContext(baseUrl, loaded.keys);
  await ensureApi(baseUrl);
  await ensureKeys(ctx, loaded);
  await ensureUpstreamStub();
  const only = process.argv.slice(2);
  for (const flow of flows) {
    if (only.length > 0 && !only.includes(flow.name)) continue;
    ctx.title(flow.title);
    await flow.run(ctx);
  }
  ctx.done();
  process.exit(0);
}

main().catch((error: unknown) => {
  process.stderr.write(`\ndemo failed: ${(error as Error).message}\n`);
  process.exit(1);
});
