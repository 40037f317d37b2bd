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
 * `npm run demo -- pairing legacy` runs only the named flows (an unknown name is refused);
 * `npm run demo -- --check` checks the server, its keys and the identity API and runs none.
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

/** Host names of this machine in a URL, and the address the stub listens on for each. */
const LOCAL_HOSTS: Record<string, string> = {
  '127.0.0.1': '127.0.0.1',
  localhost: '127.0.0.1',
  '0.0.0.0': '127.0.0.1',
  '[::1]': '::1',
};

interface StubPlace {
  host: string;
  port: number;
  /** The key the stub checks: the one the server sends (none when it sends none). */
  apiKey: string | undefined;
}

/**
 * Where the demo starts its upstream stub: DEMO_UPSTREAM_PORT; else the place UPSTREAM_URL
 * names when it is this machine over plain HTTP with no path (the stub answers only there), or a
 * reason to start none (`skip`: another host, whose API the server calls; an https or path URL,
 * which the stub cannot serve); else 4010, a development server's default. The key is the
 * server's: with UPSTREAM_URL but no UPSTREAM_API_KEY the server sends none, so the stub checks
 * none.
 */
function upstreamStubPlace(env: NodeJS.ProcessEnv): StubPlace | { skip: string } {
  // the key the server sends: none when it was given UPSTREAM_URL without UPSTREAM_API_KEY
  const devKey = env.UPSTREAM_API_KEY ?? (env.UPSTREAM_URL ? undefined : 'dev-upstream-key');
  if (env.DEMO_UPSTREAM_PORT)
    return { host: '127.0.0.1', port: Number(env.DEMO_UPSTREAM_PORT), apiKey: devKey };
  if (!env.UPSTREAM_URL) return { host: '127.0.0.1', port: 4010, apiKey: devKey };
  let url: URL;
  try {
    url = new URL(env.UPSTREAM_URL);
  } catch {
    throw new Error(
      'UPSTREAM_URL is not a URL: give the identity API URL the server was started with',
    );
  }
  const host = LOCAL_HOSTS[url.hostname];
  if (host === undefined) return { skip: `the identity API is ${url.origin}` };
  if (url.protocol !== 'http:' || url.pathname !== '/')
    return {
      skip:
        `UPSTREAM_URL is ${url.protocol}//${url.host}${url.pathname}; the demo's stub answers ` +
        'only plain http://<this machine>:<port> with no path: start that identity API yourself',
    };
  return { host, port: Number(url.port || 80), apiKey: env.UPSTREAM_API_KEY };
}

/** Starts scripts/upstream-stub.js where `upstreamStubPlace` says, unless something answers there. */
async function ensureUpstreamStub(): Promise<void> {
  const place = upstreamStubPlace(process.env);
  if ('skip' in place) {
    process.stdout.write(`(${place.skip}: no upstream stub started)\n`);
    return;
  }
  const { host, port, apiKey } = place;
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  try {
    await fetch(`${origin}/health`);
    return;
  } catch {
    // nothing there: start ours
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const stub = require('./upstream-stub.js') as {
    startUpstreamStub: (o: {
      port: number;
      host: string;
      apiKey: string | undefined;
    }) => Promise<{ unref: () => void }>;
  };
  const server = await stub.startUpstreamStub({ port, host, apiKey });
  server.unref();
  const keyNote = apiKey === undefined ? ', checking no key: the server sends none' : '';
  process.stdout.write(`(started the upstream stub on port ${port}${keyNote})\n`);
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
  // `--check`: the server, its keys and the identity API only, no flow
  const check = process.argv.includes('--check');
  const only = process.argv.slice(2).filter((arg) => arg !== '--check');
  const unknown = only.filter((name) => !flows.some((flow) => flow.name === name));
  if (unknown.length > 0) {
    const names = flows.map((flow) => flow.name).join(', ');
    throw new Error(`no flow named ${unknown.join(', ')} (the flows: ${names}; --check runs none)`);
  }
  await ensureUpstreamStub();
  for (const flow of check ? [] : flows) {
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
