import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsRegistry, SystemClock } from '@app/common';
import { SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import { compileAdapter } from '@app/persistence/testing/compile-adapter';
import { ChainLink, ChainVerifier, GENESIS_HASH } from './domain/hash-chain';
import { tlogAdapters } from './infrastructure/persistence/tlog-persistence';
import { TlogRepository } from './infrastructure/persistence/tlog.repository';
import { LogKeyService } from './log-key.service';
import { LogPass, LogVerification, LogVerifierService } from './log-verifier.service';
import { generateTlogKey, tlogConfig } from './tlog.config';
import { TransparencyLogService } from './transparency-log.service';
import { WitnessLog } from './witness-log';

const ORIGIN = 'test.local/pass';

interface Link extends ChainLink {
  data: string;
}

const hashOf = (prevHash: string, data: string) =>
  createHash('sha256').update(`${prevHash}\n${data}`).digest('hex');

/**
 * `LogPass`, the bounded walk of the server's watches (the vault audit watch), over a real
 * SQLite store of checkpoints signed by the real log: where its records run out below the last
 * checkpoint (`tail_cut`), and where the pass starts over (the log shrank) or does not (a
 * checkpoint row that does not verify).
 */
describe('LogPass (SQLite file)', () => {
  let dir: string;
  let store: SqliteStore;
  let repo: TlogRepository;
  let tlog: TransparencyLogService;
  let verifier: LogVerifierService;
  /** The log's entries as its owner stores them. */
  let log: Link[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-log-pass-'));
    store = new SqliteStore(join(dir, 'mdai.sqlite'));
    repo = (await compileAdapter<TlogRepository>(store, tlogAdapters)).adapter;
    const settings = tlogConfig.read({ TLOG_SIGNING_KEY: generateTlogKey() }, { dataDir: dir });
    const keys = new LogKeyService(settings);
    const witness = new WitnessLog(settings);
    const clock = new SystemClock();
    tlog = new TransparencyLogService(repo, keys, witness, clock, new MetricsRegistry());
    verifier = new LogVerifierService(repo, keys, witness, tlog, clock);
    log = [];
  });

  afterEach(async () => {
    tlog.onModuleDestroy();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function append(count: number): void {
    for (let i = 0; i < count; i++) {
      const prevHash = log.at(-1)?.recordHash ?? GENESIS_HASH;
      const data = `entry ${log.length + 1}`;
      log.push({ seq: log.length + 1, prevHash, data, recordHash: hashOf(prevHash, data) });
    }
  }

  /** Signs and stores the checkpoint of the log's first `size` entries. */
  async function seal(size: number): Promise<void> {
    await tlog.seal(
      ORIGIN,
      size,
      async (from, to) => log.slice(from - 1, to).map((l) => l.recordHash),
      [],
    );
  }

  /** The stored entries after `after`, two a page (none when they ran out). */
  async function* pages(after: number): AsyncIterable<readonly Link[]> {
    for (let at = after; at < log.length; at += 2) yield log.slice(at, at + 2);
  }

  const startPass = () =>
    verifier.startPass(ORIGIN, () => new ChainVerifier<Link>((l) => hashOf(l.prevHash, l.data)));

  /**
   * Steps the pass until it answers (at most `steps` steps); the answer (undefined: none came)
   * and the walk's size after each step.
   */
  async function stepUntilAnswer(
    pass: LogPass<Link>,
    limit: number,
    steps: number,
  ): Promise<{ answer?: LogVerification; sizes: number[] }> {
    const sizes: number[] = [];
    for (let i = 0; i < steps; i++) {
      const answer = await pass.step(pages, limit);
      sizes.push(pass.size);
      if (answer) return { answer, sizes };
    }
    return { sizes };
  }

  it('should answer a whole log at its last checkpoint, a bounded number of entries a step', async () => {
    append(10);
    await seal(4);
    await seal(10);
    const { answer, sizes } = await stepUntilAnswer(await startPass(), 3, 10);
    expect(answer).toMatchObject({ ok: true, length: 10, checkpointsChecked: 2 });
    expect(sizes).toEqual([3, 6, 9, 10]);
  });

  it('should report tail_cut when the walk stands exactly at the last checkpoint row it read when the records after it are cut', async () => {
    append(6);
    await seal(4);
    const pass = await startPass();
    // sealed after the pass read the log's checkpoint rows (the log grows while it is walked)
    await seal(6);
    // the step ends at 4, the size of the last row the pass read
    expect(await pass.step(pages, 4)).toBeUndefined();
    expect(pass.size).toBe(4);

    log.length = 4;
    expect(await pass.step(pages, 4)).toMatchObject({
      ok: false,
      length: 4,
      brokenAtSeq: 5,
      reason: 'tail_cut',
    });
  });

  it('should report a newest checkpoint row that does not verify, without starting over', async () => {
    append(10);
    await seal(4);
    await seal(10);
    // the newest row's root rewritten in the database: the log's latest trusted checkpoint is 4
    store.db
      .prepare(
        `UPDATE tlog_checkpoints SET root_hash = ? WHERE size = 10
         AND log_id = (SELECT id FROM tlog_logs WHERE origin = ?)`,
      )
      .run('ab'.repeat(32), ORIGIN);
    expect((await tlog.latest(ORIGIN))?.size).toBe(4);

    const pass = await startPass();
    const { answer, sizes } = await stepUntilAnswer(pass, 3, 20);
    expect(answer).toMatchObject({ ok: false, brokenAtSeq: 10, reason: 'checkpoint_mismatch' });
    // never started over: each step went on from where the last one ended
    expect(pass.restarts).toBe(0);
    expect(sizes).toEqual([3, 6, 9, 10]);
  });

  it('should start over when the log shrank under the pass (its checkpoints too: a restore), and answer the log as it is', async () => {
    append(10);
    await seal(4);
    await seal(10);
    const pass = await startPass();
    expect(await pass.step(pages, 6)).toBeUndefined();
    expect(pass.size).toBe(6);

    // an older copy put back: the entries and the checkpoint rows past 4 are gone
    log.length = 4;
    store.db
      .prepare(
        `DELETE FROM tlog_checkpoints WHERE size > 4
         AND log_id = (SELECT id FROM tlog_logs WHERE origin = ?)`,
      )
      .run(ORIGIN);
    const { answer, sizes } = await stepUntilAnswer(pass, 6, 5);
    expect(answer).toMatchObject({ ok: true, length: 4, checkpointsChecked: 1 });
    expect(pass.restarts).toBe(1);
    expect(sizes).toEqual([0, 4]);
  });
});
