/**
 * Startup and idle memory: our API as production runs it (`npm run build:api`: nest build and
 * the esbuild bundle, then `node dist/.../main.js` on SQLite with an existing DATA_DIR) against
 * a bare Nest app (bench/support/bare-nest.js), both plain `node`. Time from spawn to the first `/health`
 * 200 (and the CPU time the process used until then, steadier than wall time on a shared
 * machine), then RSS after a second at idle; interleaved rounds, medians.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getStatus, median, processCpuMs, processRssMiB } from './support/proc';
import { now, printRows } from './support';

const ROUNDS = Number(process.env.STARTUP_ROUNDS ?? 5);
const ROOT = join(__dirname, '..');
const MAIN = join(ROOT, 'dist/apps/api/apps/api/src/main.js');
const BARE = join(__dirname, 'support/bare-nest.js');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function boot(
  script: string,
  env: NodeJS.ProcessEnv,
): Promise<{ ms: number; cpuMs: number; rssMiB: number }> {
  const port = await freePort();
  const t0 = now();
  const child: ChildProcess = spawn(process.execPath, [script], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: 'ignore',
  });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${script} exited (${child.exitCode})`);
      if ((await getStatus(`http://127.0.0.1:${port}/health`)) === 200) break;
      if (now() - t0 > 60_000) throw new Error(`${script} did not answer /health`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const ms = now() - t0;
    const cpuMs = processCpuMs(child.pid!);
    await new Promise((r) => setTimeout(r, 1000));
    return { ms, cpuMs, rssMiB: processRssMiB(child.pid!) };
  } finally {
    await new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
}

export async function run(): Promise<void> {
  if (process.env.BENCH_SKIP_BUILD !== '1') {
    // what `npm run build` does for the API: nest build, then the esbuild bundle
    execFileSync('npm', ['run', '--silent', 'build:api'], { cwd: ROOT, stdio: 'inherit' });
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'mdai-bench-startup-'));
  const oursEnv = { NODE_ENV: 'development', DATA_DIR: dataDir, DATABASE_URL: '', REDIS_URL: '' };
  // BENCH_BEFORE_MAIN=<an older build's main.js>: that build is booted in the same rounds too
  const beforeMain = process.env.BENCH_BEFORE_MAIN;
  const beforeDir = mkdtempSync(join(tmpdir(), 'mdai-bench-startup-before-'));
  const beforeEnv = { ...oursEnv, DATA_DIR: beforeDir };
  try {
    // cold: a fresh container's first start, whose temp dir is empty (no record of an earlier
    // boot's package resolutions; the build's record next to main.js, when there is one, is
    // there as in the image): each of its boots gets an empty TMPDIR of its own
    // With the build's record (resolutions.json) in place, a cold boot reads and writes nothing
    // in the temp dir, so it does what a warm one does (docs/benchmarks.md, "bootcold").
    // first: a fresh container's first start on an empty volume: an empty DATA_DIR too (a new
    // one for each boot), so the boot creates the SQLite file, migrates it from nothing and
    // generates the local secrets, as the warm and cold boots (an existing DATA_DIR) do not
    type Rig = { name: string; script: string; env: NodeJS.ProcessEnv; cold?: boolean };
    const rigs: Array<Rig & { first?: boolean }> = [
      { name: 'ours', script: MAIN, env: oursEnv },
      { name: 'bare', script: BARE, env: {} },
      { name: 'cold', script: MAIN, env: oursEnv, cold: true },
      { name: 'first', script: MAIN, env: oursEnv, cold: true, first: true },
      ...(beforeMain
        ? [
            { name: 'before', script: beforeMain, env: beforeEnv },
            { name: 'beforeCold', script: beforeMain, env: beforeEnv, cold: true },
            { name: 'beforeFirst', script: beforeMain, env: beforeEnv, cold: true, first: true },
          ]
        : []),
    ];
    const results: Record<string, { ms: number[]; cpu: number[]; rss: number[] }> = {};
    for (const rig of rigs) {
      // first boot: generates local secrets, migrates the file (not for `first`, whose every
      // boot is one)
      if (!rig.first) await boot(rig.script, rig.env);
      results[rig.name] = { ms: [], cpu: [], rss: [] };
    }
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 ? [...rigs].reverse() : rigs;
      for (const rig of order) {
        const tmp = rig.cold ? mkdtempSync(join(tmpdir(), 'mdai-bench-startup-cold-')) : undefined;
        const data = rig.first
          ? mkdtempSync(join(tmpdir(), 'mdai-bench-startup-first-'))
          : undefined;
        const env = {
          ...rig.env,
          ...(tmp ? { TMPDIR: tmp } : {}),
          ...(data ? { DATA_DIR: data } : {}),
        };
        const r = await boot(rig.script, env).finally(() => {
          if (tmp) rmSync(tmp, { recursive: true, force: true });
          if (data) rmSync(data, { recursive: true, force: true });
        });
        results[rig.name].ms.push(r.ms);
        results[rig.name].cpu.push(r.cpuMs);
        results[rig.name].rss.push(r.rssMiB);
      }
    }
    const { ours, bare, before, cold, beforeCold, first, beforeFirst } = results;
    printRows(
      `Startup (medians of ${ROUNDS} interleaved boots; ratio = ours / baseline, lower is better)`,
      [
        {
          metric: 'spawn to first /health 200 (ours: dist main.js on SQLite; baseline: bare Nest)',
          ours: median(ours.ms),
          baseline: median(bare.ms),
          unit: 'ms',
        },
        {
          metric: 'CPU time (user + system) until the first /health 200',
          ours: median(ours.cpu),
          baseline: median(bare.cpu),
          unit: 'ms',
        },
        {
          metric: 'RSS at idle, 1 s after the first /health 200',
          ours: median(ours.rss),
          baseline: median(bare.rss),
          unit: 'MiB',
        },
        {
          metric: 'cold (an empty temp dir: a fresh container): spawn to first /health 200',
          ours: median(cold.ms),
          baseline: median(bare.ms),
          unit: 'ms',
        },
        {
          metric: 'cold: CPU time until the first /health 200',
          ours: median(cold.cpu),
          baseline: median(bare.cpu),
          unit: 'ms',
        },
        {
          metric: 'cold: RSS at idle',
          ours: median(cold.rss),
          baseline: median(bare.rss),
          unit: 'MiB',
        },
        {
          metric:
            'first (an empty DATA_DIR and temp dir: a fresh volume): spawn to first /health 200',
          ours: median(first.ms),
          baseline: median(bare.ms),
          unit: 'ms',
        },
        {
          metric: 'first: CPU time until the first /health 200',
          ours: median(first.cpu),
          baseline: median(bare.cpu),
          unit: 'ms',
        },
        ...(before
          ? [
              {
                metric: 'before (BENCH_BEFORE_MAIN): spawn to first /health 200',
                ours: median(before.ms),
                baseline: median(bare.ms),
                unit: 'ms',
              },
              {
                metric: 'before (BENCH_BEFORE_MAIN): CPU time until the first /health 200',
                ours: median(before.cpu),
                baseline: median(bare.cpu),
                unit: 'ms',
              },
              {
                metric: 'before (BENCH_BEFORE_MAIN): RSS at idle',
                ours: median(before.rss),
                baseline: median(bare.rss),
                unit: 'MiB',
              },
              {
                metric: 'before, cold: spawn to first /health 200',
                ours: median(beforeCold.ms),
                baseline: median(bare.ms),
                unit: 'ms',
              },
              {
                metric: 'before, cold: CPU time until the first /health 200',
                ours: median(beforeCold.cpu),
                baseline: median(bare.cpu),
                unit: 'ms',
              },
              {
                metric: 'before, first: spawn to first /health 200',
                ours: median(beforeFirst.ms),
                baseline: median(bare.ms),
                unit: 'ms',
              },
              {
                metric: 'before, first: CPU time until the first /health 200',
                ours: median(beforeFirst.cpu),
                baseline: median(bare.cpu),
                unit: 'ms',
              },
            ]
          : []),
      ],
    );
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(beforeDir, { recursive: true, force: true });
  }
}
