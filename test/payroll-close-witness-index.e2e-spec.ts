import { appendFileSync, readFileSync, rmSync, statSync } from 'node:fs';
import { PayrollCloseService } from '@app/timesheets';
import { TransparencyLogService } from '@app/tlog';
import { WitnessLog } from '@app/tlog/witness-log';
import { editStore } from './support/tamper';
import { dropMongoDatabaseOf, http, MONGODB_URI, startTestApp, TestApp } from './support/test-app';
import { createSite } from './support/timesheet-client';

/** Lines of other logs, enough to put the site's lines far from the file's last 64 KiB. */
const FILLER_LINES = 20_000;

/**
 * The witness file holds a line per checkpoint of every log (the ledgers', the vault audit's,
 * every site's payroll closes'). The first seal of a log after a restart used to read the whole
 * file for that log's latest line, inside the request that sealed (a close). The file is now
 * indexed once, at start-up in the background: a close reads no more of it than was appended
 * since. Closes deleted with the log's checkpoint rows are still caught against it, on a read.
 */
describe('payroll closes against the witness file after a restart (e2e)', () => {
  let a: TestApp | undefined;
  let b: TestApp | undefined;
  let dataDir: string | undefined;
  afterEach(async () => {
    await a?.close({ keepData: true });
    await b?.close({ keepData: true });
    [a, b] = [undefined, undefined];
    if (dataDir) {
      if (MONGODB_URI) await dropMongoDatabaseOf(dataDir);
      rmSync(dataDir, { recursive: true, force: true });
    }
    dataDir = undefined;
  });

  const close = (t: TestApp, siteId: string, day: string) =>
    http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/payroll/closes`, {
      key: t.keys.admin,
      body: { from: `2020-01-${day}`, to: `2020-01-${day}` },
    });

  /** A site with closes of the given days, sealed; the server stopped, its witness file padded. */
  const sealedSiteThenStopped = async (
    days: string[],
    whileRunning?: (t: TestApp, siteId: string, origin: string) => Promise<void>,
  ) => {
    a = await startTestApp();
    dataDir = a.dataDir;
    const { siteId } = await createSite(a.baseUrl, a.keys.admin, 'Asia/Kolkata');
    for (const day of days) expect((await close(a, siteId, day)).status).toBe(201);
    const origin = a.app.get(PayrollCloseService).originOf(siteId);
    expect((await a.app.get(TransparencyLogService).latest(origin))?.size).toBe(days.length);
    await whileRunning?.(a, siteId, origin);
    const witnessFile = a.config.tlog.witnessFile;
    await a.close({ keepData: true });
    a = undefined;
    // later checkpoints of other logs (busy ledgers): the site's lines far from the end
    const line = readFileSync(witnessFile, 'utf8')
      .trim()
      .split('\n')
      .find((l) => l.includes(`"${origin}"`))!;
    const filler = Array.from(
      { length: FILLER_LINES },
      (_, i) => line.replace(`"${origin}"`, `"mdai.local/ledger/filler-${i}"`) + '\n',
    ).join('');
    appendFileSync(witnessFile, filler);
    return { siteId, origin, witnessFile };
  };

  it('should seal the first close of a sealed site after a restart reading none of the witness file the start-up indexed', async () => {
    const { siteId, origin, witnessFile } = await sealedSiteThenStopped(['01']);
    const fileSize = statSync(witnessFile).size;
    b = await startTestApp({ DATA_DIR: dataDir });
    const witness = b.app.get(WitnessLog);
    // the start-up's one pass (in the background; awaited here, not timed)
    await witness.warm();
    const indexed = witness.bytesRead;
    expect(indexed).toBeGreaterThanOrEqual(fileSize);

    expect((await close(b, siteId, '02')).status).toBe(201);
    expect((await b.app.get(TransparencyLogService).latest(origin))?.size).toBe(2);
    // before: the close's seal read the whole file again for the site's latest line
    expect(witness.bytesRead - indexed).toBeLessThan(64 * 1024);
    expect(fileSize).toBeGreaterThan(100 * 64 * 1024);
    const metrics = await fetch(`${b.baseUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/^mdai_tlog_witness_read_bytes_total \d+/m);
  }, 300_000);

  it('should read a site broken whose closes were deleted with its head and the log checkpoint rows, its witness lines far from the end', async () => {
    const { siteId } = await sealedSiteThenStopped(['01', '02'], async (t, id, origin) => {
      await editStore(
        t,
        (db) => {
          db.prepare('DELETE FROM payroll_closes WHERE site_id = ?').run(id);
          db.prepare('DELETE FROM payroll_close_heads WHERE site_id = ?').run(id);
          db.prepare(
            'DELETE FROM tlog_checkpoints WHERE log_id = (SELECT id FROM tlog_logs WHERE origin = ?)',
          ).run(origin);
        },
        async (c) => {
          await c.db!.collection('payroll_closes').deleteMany({ siteId: id });
          await c.db!.collection('payroll_close_heads').deleteOne({ _id: id as never });
          await c.db!.collection('tlog_checkpoints').deleteMany({ origin });
        },
      );
    });
    b = await startTestApp({ DATA_DIR: dataDir });
    // not in the start-up's 64 KiB tail: /health does not name it (log_rolled_back)
    const payroll = await http(
      b.baseUrl,
      'GET',
      `/api/v5/sites/${siteId}/payroll?from=2020-01-01&to=2020-01-01`,
      { key: b.keys.auditor },
    );
    // before: 200, the periods read as never closed (nothing in the store counts them)
    expect([payroll.status, payroll.body.code]).toEqual([503, 'payroll_close_chain_broken']);
    const listed = await http(b.baseUrl, 'GET', `/api/v5/sites/${siteId}/payroll/closes`, {
      key: b.keys.auditor,
    });
    expect([listed.status, listed.body.chain]).toEqual([200, 'broken']);
    expect([(await close(b, siteId, '01')).status]).toEqual([503]);
  }, 300_000);
});
