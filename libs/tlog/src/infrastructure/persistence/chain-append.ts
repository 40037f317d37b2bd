import type { Database } from 'better-sqlite3';

/**
 * The two ways a chain append is made safe under concurrency, written once for every
 * hash-chained log (the attendance ledger, the vault audit log).
 */

/**
 * SQLite: runs `work` in one BEGIN IMMEDIATE transaction, which takes the write lock before
 * the head is read, so no other connection or process can append in between.
 */
export function appendImmediate<T>(db: Database, work: () => T): T {
  return db.transaction(work).immediate();
}

export const DUPLICATE_KEY = 11000;

/**
 * MongoDB: `attempt` reads the head and inserts the next link; a unique index on the
 * position makes a racing writer fail with a duplicate-key error, and it tries again after
 * a short random pause (so two writers do not collide forever).
 */
export async function appendWithRetry<T>(
  attempt: () => Promise<T>,
  what: string,
  maxAttempts = 200,
): Promise<T> {
  for (let n = 0; n < maxAttempts; n++) {
    try {
      return await attempt();
    } catch (error) {
      if ((error as { code?: number }).code !== DUPLICATE_KEY) throw error;
      if (n > 2) await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 * n)));
    }
  }
  throw new Error(`could not append to ${what} after ${maxAttempts} attempts`);
}
