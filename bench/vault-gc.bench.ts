/**
 * Vault requests and V8's full collections: the API's mark-compacts (perf_hooks `gc` entries,
 * bench/support/gc-count.js preloaded) per `VAULT_GC_REQUESTS` (40) requests of three kinds:
 * stores of `VAULT_GC_MIB` (32) MiB one at a time, their reads, and stores of 16 MiB three at a
 * time (overlapping uploads); with each phase's peak of `process.memoryUsage().arrayBuffers`
 * (sampled every 5 ms: V8's external memory, which its external-memory trigger counts). With
 * `BENCH_BEFORE_DIR=<an older checkout>` its API runs in the same phases, the servers taking
 * turns request by request (overlapping batches by batch); `VAULT_GC_DIST=1` adds the built
 * bundles (`npm run build` in each checkout first). Counts, not times: a mark-compact is 20–90 ms
 * of main thread (docs/benchmarks.md, heapfix).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchChild } from './support/child';
import { call } from './support/http-call';

const MIB = 1024 * 1024;
const SIZE = Number(process.env.VAULT_GC_MIB ?? 32) * MIB;
const REQUESTS = Number(process.env.VAULT_GC_REQUESTS ?? 40);
const OVERLAP = 3;
const ADMIN = 'mdai_adm_benchbenchbenchbenchbench';
const AUDITOR = 'mdai_aud_benchbenchbenchbenchbench';

interface Server {
  name: string;
  child: BenchChild;
  base: string;
}

interface Count {
  scavenge: number;
  markCompact: number;
  peakArrayBuffersMiB: number;
}

async function count(server: Server): Promise<Count> {
  server.child.send('gc-count');
  return JSON.parse(await server.child.expect('GC ')) as Count;
}

async function store(server: Server, data: Buffer): Promise<string> {
  const r = await call(
    server.base,
    'POST',
    {
      'x-api-key': ADMIN,
      'content-type': 'application/octet-stream',
      'content-length': data.length,
      'x-access-purpose': 'benchmark',
    },
    { body: data, textBelow: 4096 },
  );
  if (r.status !== 201) throw new Error(`${server.name} store: ${r.status} ${r.text}`);
  return (JSON.parse(r.text) as { fileId: string }).fileId;
}

async function read(server: Server, id: string, size: number): Promise<void> {
  const r = await call(
    `${server.base}/${id}`,
    'GET',
    { 'x-api-key': AUDITOR, 'x-access-purpose': 'benchmark' },
    { textBelow: 4096 },
  );
  if (r.bytes !== size) throw new Error(`${server.name} read: ${r.status}, ${r.bytes} bytes`);
}

/** Each server's counts over `run`, called for each server in turn `times` times. */
async function phase(
  servers: Server[],
  times: number,
  run: (server: Server, i: number) => Promise<void>,
): Promise<Map<Server, Count>> {
  for (const server of servers) await count(server);
  for (let i = 0; i < times; i++) {
    for (let k = 0; k < servers.length; k++) await run(servers[(i + k) % servers.length], i);
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  const counts = new Map<Server, Count>();
  for (const server of servers) counts.set(server, await count(server));
  return counts;
}

export async function run(): Promise<void> {
  const root = join(__dirname, '..');
  const preload = ['-r', join(__dirname, 'support', 'gc-count.js')];
  const dirs: string[] = [];
  const env = () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mdai-bench-vault-gc-'));
    dirs.push(dataDir);
    return {
      DATA_DIR: dataDir,
      NODE_ENV: 'development',
      ADMIN_API_KEYS: ADMIN,
      AUDITOR_API_KEYS: AUDITOR,
      VAULT_MAX_FILE_BYTES: String(Math.max(SIZE, 16 * MIB)),
      RATE_LIMIT_PER_IP: '1000000',
      RATE_LIMIT_PER_CREDENTIAL: '1000000',
    };
  };
  const beforeDir = process.env.BENCH_BEFORE_DIR;
  const dist = process.env.VAULT_GC_DIST === '1';
  const started: { name: string; child: BenchChild }[] = [
    {
      name: 'ours',
      child: BenchChild.startIn(root, 'support/serve-api.ts', [], env(), [], preload),
    },
  ];
  if (beforeDir) {
    started.push({
      name: 'before',
      child: BenchChild.startIn(beforeDir, 'support/serve-api.ts', [], env(), [], preload),
    });
  }
  const builds: [string, string | undefined][] = [
    ['dist', root],
    ['before dist', beforeDir],
  ];
  for (const [name, dir] of dist ? builds : []) {
    if (!dir || !existsSync(join(dir, 'dist/apps/api/apps/api/src/main.js'))) continue;
    started.push({
      name,
      child: BenchChild.startPlain(dir, 'support/serve-dist.js', env(), preload),
    });
  }
  try {
    const servers: Server[] = [];
    for (const { name, child } of started) {
      servers.push({
        name,
        child,
        base: `http://127.0.0.1:${await child.expect('READY')}/api/v5/vault`,
      });
    }
    const big = randomBytes(SIZE);
    const sixteen = randomBytes(16 * MIB);
    // warm-up: each server's code optimized and its heap grown
    for (let i = 0; i < 3; i++) {
      for (const server of servers) await read(server, await store(server, sixteen), 16 * MIB);
    }
    const ids = new Map<Server, string[]>(servers.map((s) => [s, []]));
    const stores = await phase(servers, REQUESTS, async (server) => {
      ids.get(server)!.push(await store(server, big));
    });
    const reads = await phase(servers, REQUESTS, async (server, i) => {
      await read(server, ids.get(server)![i], SIZE);
    });
    const overlapping = await phase(servers, Math.ceil(REQUESTS / OVERLAP), async (server) => {
      await Promise.all(Array.from({ length: OVERLAP }, () => store(server, sixteen)));
    });
    const line = (c: Count) =>
      `${String(c.markCompact).padStart(3)} mark-compacts, ${String(c.scavenge).padStart(4)} scavenges, peak arrayBuffers ${c.peakArrayBuffersMiB} MiB`;
    process.stdout.write(
      `\nVault requests and full GCs (mark-compacts of the API's main thread; ${REQUESTS} requests a phase)\n`,
    );
    for (const server of servers) {
      process.stdout.write(
        `  ${server.name}\n` +
          `    ${REQUESTS} stores of ${SIZE / MIB} MiB, one at a time: ${line(stores.get(server)!)}\n` +
          `    ${REQUESTS} reads of those:              ${line(reads.get(server)!)}\n` +
          `    ${Math.ceil(REQUESTS / OVERLAP) * OVERLAP} stores of 16 MiB, ${OVERLAP} at a time:  ${line(overlapping.get(server)!)}\n`,
      );
    }
  } finally {
    await Promise.all(started.map(({ child }) => child.stop()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}
