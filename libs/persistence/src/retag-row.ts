import type { Database } from 'better-sqlite3';
import type { SqliteWriteTurns } from './sqlite/sqlite-write-turns';

/**
 * `keys:retag` of one row under one tag (a worker, a site, a thekedar, a payroll close), the
 * same steps on every store: read the row, let its seal plan it (`retag`: the outcome, and the
 * new tag), and write the tag only when the outcome is `retagged`, only over the row as read.
 */
export interface RowRetagStep<R, O extends { result: string }> {
  /** The row as stored (null or undefined: gone since its id was read). */
  read: () => R | null | undefined;
  retag: (row: R) => { outcome: O; tag?: string };
}

/**
 * On SQLite: the read and the write in one immediate transaction under the store's write turn,
 * so nothing changes between them (an immediate one waits for another process's write lock
 * before it reads). undefined: the row is gone.
 */
export async function retagSqliteRow<R, O extends { result: string }>(
  store: { db: Database; turns: SqliteWriteTurns },
  step: RowRetagStep<R, O> & { write: (tag: string) => void },
): Promise<O | undefined> {
  // boxed: the write turn takes a work whose result it can tell is no promise
  const { outcome } = await store.turns.write(() =>
    store.db
      .transaction((): { outcome?: O } => {
        const row = step.read();
        if (!row) return {};
        const planned = step.retag(row);
        if (planned.outcome.result === 'retagged') step.write(planned.tag!);
        return { outcome: planned.outcome };
      })
      .immediate(),
  );
  return outcome;
}

/**
 * On MongoDB: a compare-and-set over the document as read (`setTag` answers whether its filter
 * of the document as read matched): a change meanwhile misses and it is read again, three
 * tries, then `changed` (the kind's outcome of it). undefined: the document is gone.
 */
export async function retagMongoDocument<D, O extends { result: string }>(
  step: Omit<RowRetagStep<D, O>, 'read'> & {
    read: () => Promise<D | null | undefined>;
    setTag: (doc: D, tag: string) => Promise<boolean>;
    changed: O;
  },
): Promise<O | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const doc = await step.read();
    if (!doc) return undefined;
    const { outcome, tag } = step.retag(doc);
    if (outcome.result !== 'retagged') return outcome;
    if (await step.setTag(doc, tag!)) return outcome;
  }
  return step.changed;
}
