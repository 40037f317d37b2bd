/**
 * A transparency log on a SQLite store, built by hand for the benches that time
 * `TransparencyLogService` without the API (bench/tlog, and the child of bench/seal-backlog, which
 * copies this file into an older checkout): wired as `TlogModule` wires it, with the SQLite
 * tlog adapter, a fresh signing key, the witness file in `dataDir`, the system clock, no metrics.
 */
import { SystemClock } from '@app/common';
import { SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import { compileAdapter } from '@app/persistence/testing/compile-adapter';
import { generateTlogKey, LogKeyService, tlogConfig, TransparencyLogService } from '@app/tlog';
import { tlogAdapters } from '@app/tlog/infrastructure/persistence/tlog-persistence';
import { TlogRepository } from '@app/tlog/infrastructure/persistence/tlog.repository';
import { WitnessLog } from '@app/tlog/witness-log';

export async function sqliteTlog(
  store: SqliteStore,
  dataDir: string,
): Promise<{ repo: TlogRepository; tlog: TransparencyLogService }> {
  const { adapter: repo } = await compileAdapter<TlogRepository>(store, tlogAdapters);
  const settings = tlogConfig.read({ TLOG_SIGNING_KEY: generateTlogKey() }, { dataDir });
  const tlog = new TransparencyLogService(
    repo,
    new LogKeyService(settings),
    new WitnessLog(settings),
    new SystemClock(),
  );
  return { repo, tlog };
}
