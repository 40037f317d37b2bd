/**
 * One-off timing of the boot link of payroll closes stored by an earlier release (no place in a
 * chain): `sites` × `months` unlinked closes of 50 workers each, then the link as a server's
 * start runs it (PayrollCloseService.onModuleInit), timed (wall and CPU); then, interleaved
 * `rounds` times, the overlapping read a payroll read already did, the chain check it adds (the
 * site's places, tip and head), and a listing of one close with every link checked: medians. `node -r @swc-node/register bench/payroll-close-link-time.ts
 * [sites] [months] [rounds]` (default 200 60 200). Not a `*.bench.ts`: the link runs once per store.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { SqliteStore } from '@app/persistence';
import { StoreMac } from '@app/tlog';
import { PayrollCloseService } from '../libs/timesheets/src/payroll-close/payroll-close.service';
import { SqlitePayrollCloseRepository } from '../libs/timesheets/src/payroll-close/sqlite-payroll-close.repository';

async function main(): Promise<void> {
  const sites = Number(process.argv[2] ?? 200);
  const months = Number(process.argv[3] ?? 60);
  const rounds = Number(process.argv[4] ?? 200);
  const dir = mkdtempSync(join(tmpdir(), 'mdai-close-link-'));
  const store = new SqliteStore(join(dir, 'closes.sqlite'));
  const repo = new SqlitePayrollCloseRepository(store);
  const mac = new StoreMac({ signingKey: generateKeyPairSync('ed25519').privateKey });
  const workers = Array.from({ length: 50 }, (_, i) => ({
    workerId: `w${String(i).padStart(4, '0')}`,
    daysPresent: 22,
    hours: 176.5,
    workedSeconds: 635_400,
    flaggedDays: 1,
  }));
  const insert = store.db.prepare(
    `INSERT INTO payroll_closes (site_id, from_day, to_day, closed_at, closed_by, workers, tag)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const body = JSON.stringify(workers);
  const rows = workers.map((w) => [
    w.workerId,
    w.daysPresent,
    w.hours,
    w.workedSeconds,
    w.flaggedDays,
  ]);
  store.db.transaction(() => {
    for (let s = 0; s < sites; s++) {
      const siteId = `site-${String(s).padStart(4, '0')}`;
      for (let m = 0; m < months; m++) {
        const first = new Date(Date.UTC(2021, m, 1));
        const last = new Date(Date.UTC(2021, m + 1, 0));
        const from = first.toISOString().slice(0, 10);
        const to = last.toISOString().slice(0, 10);
        const at = Date.UTC(2021, m + 1, 2);
        const tag = mac.mac(
          'payroll-close',
          JSON.stringify([siteId, from, to, at, 'admin:ops', rows]),
        );
        insert.run(siteId, from, to, at, 'admin:ops', body, tag);
      }
    }
  })();
  // the transparency log's seal of each linked site is not timed here (a no-op stand-in)
  const tlog = { seal: () => Promise.resolve() } as never;
  const service = new PayrollCloseService(
    repo,
    undefined as never,
    undefined as never,
    mac,
    { now: () => new Date() },
    tlog,
    { origin: 'bench' } as never,
  );
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await service.onModuleInit();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const cpuMs = (process.cpuUsage(cpu).user + process.cpuUsage(cpu).system) / 1000;
  const linked = store.db
    .prepare('SELECT count(*) AS n FROM payroll_closes WHERE seq IS NOT NULL')
    .get() as { n: number };

  // a payroll read of a site: the overlapping read it did, and the chain check it adds
  const siteId = 'site-0100';
  const timed = async (work: () => Promise<unknown>) => {
    const t0 = process.hrtime.bigint();
    await work();
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  const overlap: number[] = [];
  const brief: number[] = [];
  const placesOnly: number[] = [];
  const full: number[] = [];
  const check = service as unknown as {
    refuseBrokenChain: (id: string) => Promise<void>;
    brokenHead: (tip: unknown, head: unknown) => string | undefined;
  };
  // the check in brief before the heads carried their periods digest (branch closegaps): the
  // places alone (the covering index), the tip and the head, the head checked against the tip
  const oldPlaces = store.db.prepare(
    'SELECT seq FROM payroll_closes WHERE site_id = ? ORDER BY seq',
  );
  const oldTip = store.db.prepare(
    'SELECT * FROM payroll_closes WHERE site_id = ? AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1',
  );
  const oldHead = store.db.prepare('SELECT * FROM payroll_close_heads WHERE site_id = ?');
  const placesOnlyCheck = async (): Promise<void> => {
    const seqs = (oldPlaces.all(siteId) as Array<{ seq: number }>).map((r) => r.seq);
    if (seqs.some((seq, i) => seq !== i + 1)) throw new Error('broken');
    const r = oldTip.get(siteId) as Record<string, string & number>;
    const tip = {
      siteId: r.site_id,
      from: r.from_day,
      to: r.to_day,
      at: r.closed_at,
      by: r.closed_by,
      workers: JSON.parse(r.workers) as unknown,
      seq: r.seq,
      prev: r.prev,
      tag: r.tag,
    };
    const head = oldHead.get(siteId) as {
      site_id: string;
      seq: number;
      digest: string;
      tag: string;
    };
    if (check.brokenHead(tip, { ...head, siteId: head.site_id })) throw new Error('broken');
  };
  for (let i = 0; i < rounds; i++) {
    overlap.push(await timed(() => repo.overlapping(siteId, '2023-01-01', '2023-01-31')));
    // both orders, alternately
    if (i % 2 === 0) {
      brief.push(await timed(() => check.refuseBrokenChain(siteId)));
      placesOnly.push(await timed(placesOnlyCheck));
    } else {
      placesOnly.push(await timed(placesOnlyCheck));
      brief.push(await timed(() => check.refuseBrokenChain(siteId)));
    }
    full.push(await timed(() => service.list(siteId, 1)));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  console.log(
    JSON.stringify({
      closes: sites * months,
      linked: linked.n,
      linkMs: Math.round(ms),
      linkCpuMs: Math.round(cpuMs),
      overlappingReadMedianMs: Number(median(overlap).toFixed(3)),
      payrollChainCheckMedianMs: Number(median(brief).toFixed(3)),
      placesOnlyCheckBeforeMedianMs: Number(median(placesOnly).toFixed(3)),
      listWithEveryLinkCheckedMedianMs: Number(median(full).toFixed(3)),
      load: loadavg().map((l) => Number(l.toFixed(1))),
    }),
  );
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}

void main();
