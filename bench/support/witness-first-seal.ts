/**
 * Child of bench/witness-first-seal: a transparency log on a SQLite store whose witness file
 * holds one line of log `origin` and then `lines` lines of 500 other logs (busy ledgers); a
 * "restart" (a new TransparencyLogService and WitnessLog on the same store and file), the
 * index's start-up pass awaited when this checkout has one (`warm`, timed apart), then the
 * first seal of `origin` in the new process timed: what the first payroll close of an already-sealed site after a restart
 * costs the request. Prints `SEALED {…}`. Runs in an older checkout too (no `warm` there).
 */
import { mkdtempSync, appendFileSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { SystemClock } from '@app/common';
import { SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import { compileAdapter } from '@app/persistence/testing/compile-adapter';
import { generateTlogKey, LogKeyService, tlogConfig, TransparencyLogService } from '@app/tlog';
import { tlogAdapters } from '@app/tlog/infrastructure/persistence/tlog-persistence';
import { TlogRepository } from '@app/tlog/infrastructure/persistence/tlog.repository';
import { WitnessLog } from '@app/tlog/witness-log';

const leaf = (n: number) => createHash('sha256').update(`close ${n}`).digest('hex');
const leaves = (from: number, to: number) =>
  Promise.resolve(Array.from({ length: to - from + 1 }, (_, i) => leaf(from + i)));

async function main(): Promise<void> {
  const lines = Number(process.argv[2] ?? 100_000);
  const dir = mkdtempSync(join(tmpdir(), 'mdai-witness-seal-'));
  try {
    const store = new SqliteStore(join(dir, 'mdai.sqlite'));
    const { adapter: repo } = await compileAdapter<TlogRepository>(store, tlogAdapters);
    const settings = tlogConfig.read({ TLOG_SIGNING_KEY: generateTlogKey() }, { dataDir: dir });
    const open = () => {
      const witness = new WitnessLog(settings);
      const tlog = new TransparencyLogService(
        repo,
        new LogKeyService(settings),
        witness,
        new SystemClock(),
      );
      return { witness, tlog };
    };
    const origin = 'mdai.local/payroll-closes/site-0001';
    await open().tlog.seal(origin, 1, leaves, []);
    const line = readFileSync(settings.witnessFile, 'utf8').trim();
    const filler: string[] = [];
    for (let i = 0; i < lines; i++)
      filler.push(line.replace(`"${origin}"`, `"mdai.local/ledger/filler-${i % 500}"`));
    appendFileSync(settings.witnessFile, `${filler.join('\n')}\n`);
    const fileBytes = statSync(settings.witnessFile).size;
    // the restart
    const { witness, tlog } = open();
    const warm = (witness as { warm?: () => Promise<void> }).warm;
    let startupPassMs = 0;
    if (warm) {
      const t0 = process.hrtime.bigint();
      await warm.call(witness);
      startupPassMs = Number(process.hrtime.bigint() - t0) / 1e6;
    }
    const t0 = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    const sealed = await tlog.seal(origin, 2, leaves, [2]);
    const sealMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const used = process.cpuUsage(cpu);
    const sealCpuMs = (used.user + used.system) / 1000;
    process.stdout.write(
      `SEALED ${JSON.stringify({ startupPassMs, sealMs, sealCpuMs, fileBytes, rootHash: sealed.checkpoint.rootHash })}\n`,
    );
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
