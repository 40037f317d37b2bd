/** The SQLite WAL's peaks a bench's server reports on /metrics, and their rows. */
import { BACKSTOP_PAGES } from '@app/persistence/sqlite/sqlite-checkpointer';
import type { BenchRow } from '../support';

export interface WalPeaks {
  wal: number;
  turn: number;
}

/**
 * The WAL's peaks of one or more runs against the main connection's backstop (the most of the
 * runs, each run's in the note): how close commits came to checkpointing on the event loop,
 * and what one write turn adds. `metric` names a row after what it measures.
 */
export function walPeakRows(metric: (what: string) => string, peaks: WalPeaks[]): BenchRow[] {
  if (peaks.length === 0) return [];
  const row = (what: string, values: number[]): BenchRow => ({
    metric: metric(what),
    ours: Math.max(...values),
    baseline: BACKSTOP_PAGES,
    unit: 'frames',
    ...(values.length > 1 ? { note: `(${values.join(', ')})` } : {}),
  });
  return [
    row(
      "the WAL's most frames",
      peaks.map((p) => p.wal),
    ),
    row(
      'the most frames one write turn added',
      peaks.map((p) => p.turn),
    ),
  ];
}

/**
 * The SQLite WAL's peaks a server reports on `/metrics` (`mdai_sqlite_wal_frames_peak`): the
 * most frames it held, and the most one write turn added, since it started. Undefined for a
 * server without them (an older checkout, or no checkpoint thread).
 */
export async function walPeaks(base: string): Promise<WalPeaks | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const peak = (of: string) =>
    new RegExp(`^mdai_sqlite_wal_frames_peak\\{of="${of}"\\} (\\d+)$`, 'm').exec(text)?.[1];
  const [wal, turn] = [peak('wal'), peak('turn')];
  return wal === undefined || turn === undefined
    ? undefined
    : { wal: Number(wal), turn: Number(turn) };
}
