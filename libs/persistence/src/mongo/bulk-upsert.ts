import type { Model } from 'mongoose';
import { onlyDuplicateKeysOn } from './mongo-errors';

/** What `bulkUpsert` did: upserts that inserted, and those its guard refused to the end. */
export interface BulkUpsertOutcome {
  upserted: number;
  refused: number;
}

/**
 * Runs unordered upserts, and once more those that a concurrent insert of the same key
 * refused (E11000 on the unique index `index`, the upserts' key): a mongod retries such an
 * upsert itself only when its filter is equalities on that key (since 4.2), and the MongoDB
 * test server never does. On the second run the key is there, so an upsert refused again is
 * one whose filter does not match the stored document: its guard kept it (`refused`). Any
 * other error is thrown.
 */
export async function bulkUpsert<T>(
  model: Model<T>,
  ops: Parameters<Model<T>['bulkWrite']>[0],
  index: string,
): Promise<BulkUpsertOutcome> {
  let upserted = 0;
  let pending = ops;
  for (let run = 0; ; run++) {
    try {
      const result = await model.bulkWrite(pending, { ordered: false });
      return { upserted: upserted + result.upsertedCount, refused: 0 };
    } catch (error) {
      if (!onlyDuplicateKeysOn(error, index)) throw error;
      const failed = error as {
        result: { upsertedCount: number };
        writeErrors: { index: number }[];
      };
      upserted += failed.result.upsertedCount;
      if (run === 1) return { upserted, refused: failed.writeErrors.length };
      const batch = pending;
      pending = failed.writeErrors.map((e) => batch[e.index]);
    }
  }
}
