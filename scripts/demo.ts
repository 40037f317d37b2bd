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
 * there when nothing answers on that port (DEMO_UPSTREAM_PORT to use another).
 * `npm run demo -- pairing legacy` runs only the named flows.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { flows } from './demo/flows';
import { DemoContext } from './demo/context';

function loadKeys(dataDir: string): DemoContext['keys'] {
  let stored: Record<string, string> = {};
  try {
    stored = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8'));
  } catch {
    // keys must then come from the environment
  }
  const pick = (name: string) => (process.env[name] ?? stored[name] ?? '').split(',')[0].trim();
  return {
    admin: pick('ADMIN_API_KEYS'),
    provisioner: pick('PROVISIONER_API_KEYS'),
    auditor: pick('AUDITOR_API_KEYS'),
    mobile: pick('MOBILE_API_KEYS'),
    hardware: pick('HARDWARE_API_KEYS'),
  };
}

/** Starts scripts/upstream-stub.js on DEMO_UPSTREAM_PORT (4010) unless something answers there. */
async function ensureUpstreamStub(): Promise<void> {
  const port = Number(process.env.DEMO_UPSTREAM_PORT ?? 4010);
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
  const ctx = new DemoContext(baseUrl, loadKeys(dataDir));
  await ensureApi(baseUrl);
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
