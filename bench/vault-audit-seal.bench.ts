/**
 * Vault audit sealing under a flood of refusals: CONCURRENCY requests in flight on one file
 * (`GET /api/v5/vault/:id`), two of three anonymous (no key, or a wrong one: 401, audited),
 * one of three an auditor's read (200, audited, with its receipt). Every answer waits for its
 * audit record to be sealed under a signed checkpoint. Measured per rig: requests per second,
 * the reads' share of them and their median latency (do refusals starve reads?), and
 * checkpoints written per audit record (from the audit verify's `length` and
 * `checkpointsChecked` before and after each round, outside the timing).
 * `BENCH_BEFORE_DIR=<older checkout>` (e.g. `git archive main` with a `node_modules` link)
 * runs that checkout's API in the same interleaved rounds as the baseline.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchChild } from './support/child';
import { median } from './support/proc';
import { now, percentile, printRows } from './support';

const ROUNDS = Number(process.env.VAULT_SEAL_ROUNDS ?? 5);
const REQUESTS = Number(process.env.VAULT_SEAL_REQUESTS ?? 900);
const CONCURRENCY = Number(process.env.VAULT_SEAL_CONCURRENCY ?? 48);
const ADMIN = 'mdai_adm_benchbenchbenchbenchbench';
const AUDITOR = 'mdai_aud_benchbenchbenchbenchbench';
const WRONG = 'mdai_aud_wrongwrongwrongwrongwrong';

function call(
  url: string,
  method: string,
  headers: Record<string, string | number>,
  agent: Agent,
  body?: Buffer,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Rig {
  name: string;
  base: string;
  fileId: string;
}

interface Round {
  rps: number;
  readsPerS: number;
  readP50: number;
  checkpointsPerRecord: number;
}

async function auditTotals(base: string, agent: Agent): Promise<{ records: number; cps: number }> {
  const r = await call(`${base}/api/v5/vault/audit/verify`, 'GET', { 'x-api-key': AUDITOR }, agent);
  const v = JSON.parse(r.text) as { ok: boolean; length: number; checkpointsChecked: number };
  if (r.status !== 200 || !v.ok) throw new Error(`audit verify failed: ${r.text}`);
  return { records: v.length, cps: v.checkpointsChecked };
}

async function drive(rig: Rig): Promise<Round> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const before = await auditTotals(rig.base, agent);
  const url = `${rig.base}/api/v5/vault/${rig.fileId}`;
  const readMs: number[] = [];
  let sent = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (sent < REQUESTS) {
        const i = sent++;
        const kind = i % 3;
        const headers: Record<string, string> = { 'x-access-purpose': 'bench review' };
        if (kind === 0) headers['x-api-key'] = AUDITOR;
        if (kind === 2) headers['x-api-key'] = WRONG;
        const started = now();
        const { status } = await call(url, 'GET', headers, agent);
        const expected = kind === 0 ? 200 : 401;
        if (status !== expected) throw new Error(`${rig.name} answered ${status}, not ${expected}`);
        if (kind === 0) readMs.push(now() - started);
      }
    }),
  );
  const seconds = (now() - t0) / 1000;
  const after = await auditTotals(rig.base, agent);
  agent.destroy();
  return {
    rps: REQUESTS / seconds,
    readsPerS: readMs.length / seconds,
    readP50: percentile(
      readMs.sort((a, b) => a - b),
      50,
    ),
    checkpointsPerRecord: (after.cps - before.cps) / (after.records - before.records),
  };
}

async function rigOf(name: string, child: BenchChild): Promise<Rig> {
  const base = `http://127.0.0.1:${await child.expect('READY')}`;
  const agent = new Agent({ keepAlive: false });
  const stored = await call(
    `${base}/api/v5/vault`,
    'POST',
    { 'x-api-key': ADMIN, 'content-type': 'image/jpeg' },
    agent,
    randomBytes(4096),
  );
  if (stored.status !== 201) throw new Error(`${name}: upload answered ${stored.status}`);
  return { name, base, fileId: (JSON.parse(stored.text) as { fileId: string }).fileId };
}

export async function run(): Promise<void> {
  const env = (dir: string) => ({
    DATA_DIR: dir,
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    ADMIN_API_KEYS: ADMIN,
    AUDITOR_API_KEYS: AUDITOR,
    REDIS_URL: '',
    RATE_LIMIT_PER_IP: '100000000',
    RATE_LIMIT_PER_CREDENTIAL: '100000000',
  });
  const dirs = [
    mkdtempSync(join(tmpdir(), 'mdai-bench-seal-')),
    mkdtempSync(join(tmpdir(), 'mdai-bench-seal-before-')),
  ];
  const ours = BenchChild.start('support/serve-api.ts', [], env(dirs[0]));
  const beforeDir = process.env.BENCH_BEFORE_DIR;
  const before = beforeDir
    ? BenchChild.startIn(beforeDir, 'support/serve-api.ts', [], env(dirs[1]))
    : undefined;
  try {
    const rigs = [await rigOf('ours', ours), ...(before ? [await rigOf('before', before)] : [])];
    for (const rig of rigs) await drive(rig); // warm-up
    const results: Record<string, Round[]> = Object.fromEntries(rigs.map((r) => [r.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const rig of round % 2 ? [...rigs].reverse() : rigs)
        results[rig.name].push(await drive(rig));
    }
    const med = (name: string, key: keyof Round) =>
      results[name] ? median(results[name].map((r) => r[key])) : undefined;
    const baseline = before ? 'before' : '';
    printRows(
      `Vault audit sealing under refusals (${REQUESTS} requests a round, ${CONCURRENCY} in flight, 2 of 3 anonymous 401s, 1 of 3 reads of a 4 KiB file; medians of ${ROUNDS} interleaved rounds; baseline = BENCH_BEFORE_DIR's API)`,
      [
        { metric: 'requests per second (all)', unit: 'req/s', key: 'rps' as const },
        { metric: 'allowed reads per second', unit: 'reads/s', key: 'readsPerS' as const },
        { metric: 'read latency, median (lower is better)', unit: 'ms', key: 'readP50' as const },
        {
          metric: 'checkpoints per audit record (lower is better)',
          unit: '',
          key: 'checkpointsPerRecord' as const,
        },
      ].map(({ metric, unit, key }) => ({
        metric,
        unit,
        ours: med('ours', key)!,
        baseline: baseline ? med(baseline, key) : undefined,
      })),
    );
  } finally {
    await Promise.all([ours.stop(), before?.stop()]);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}
