import type { Model } from 'mongoose';
import { LimitedStatement, SqliteStoreHandle } from '@app/persistence';

/** One sealed value of a module's records, by the key its seal context names. */
export interface SealedValue {
  key: string;
  sealed: string;
}

/**
 * What a repository that keeps KeyringService-sealed values offers the reseal job: list the
 * values not sealed under a key version (keyset by key), and swap one only if unchanged.
 */
export interface SealedValueStore {
  listSealedNotUnder(version: string, afterKey: string, limit: number): Promise<SealedValue[]>;
  replaceSealed(key: string, expected: string, next: string): Promise<boolean>;
  /** How many sealed values there are under each key version (for GET /api/v5/vault/keys). */
  countByVersion(): Promise<Record<string, number>>;
}

/**
 * The base of a repository port whose rows keep sealed values: the port declares the two
 * reseal methods once by extending it, and its adapters implement them (usually with
 * `sqliteSealedColumn` / `mongoSealedField`).
 */
export abstract class SealedValueRepository implements SealedValueStore {
  /** Sealed values not sealed under `version`, by key (for the reseal-all job). */
  abstract listSealedNotUnder(
    version: string,
    afterKey: string,
    limit: number,
  ): Promise<SealedValue[]>;
  /** Replaces a sealed value only if it is still `expected`. */
  abstract replaceSealed(key: string, expected: string, next: string): Promise<boolean>;
  /** Sealed values by key version. */
  abstract countByVersion(): Promise<Record<string, number>>;
}

export function sealedPrefix(version: string): string {
  return `sealed1.${version}.`;
}

/** The reseal walk's page: (prefix length, prefix, after key, limit); exported for plan tests. */
export function sqliteSealedPageSql(
  table: string,
  keyColumn: string,
  sealedColumn: string,
): string {
  return `SELECT ${keyColumn} AS key, ${sealedColumn} AS sealed FROM ${table}
     WHERE ${sealedColumn} IS NOT NULL AND substr(${sealedColumn}, 1, ?) <> ? AND ${keyColumn} > ?
     ORDER BY ${keyColumn} LIMIT ?`;
}

/** `sealed1.` */
const PREFIX_LENGTH = sealedPrefix('').length - 1;

/**
 * The count by key version: the part of `sealed1.<version>.…` between the first two dots (of
 * the rows `andWhere` also picks, when given: an SQL condition, its parameters the statement's).
 */
export function sqliteSealedCountSql(
  table: string,
  sealedColumn: string,
  andWhere?: string,
): string {
  const rest = `substr(${sealedColumn}, ${PREFIX_LENGTH + 1})`;
  return `SELECT substr(${rest}, 1, instr(${rest}, '.') - 1) AS version, count(*) AS n FROM ${table}
     WHERE ${sealedColumn} IS NOT NULL${andWhere ? ` AND (${andWhere})` : ''} GROUP BY version`;
}

/** A count query's rows (version, n) as the count by key version. */
export function sealedCountsByVersion(
  rows: { version: string; n: number }[],
): Record<string, number> {
  return Object.fromEntries(rows.map((r) => [r.version, r.n]));
}

/** MongoDB's count by key version of `sealedField` in the documents `filter` picks. */
export async function mongoSealedCount<T>(
  model: Model<T>,
  sealedField: string,
  filter: Record<string, unknown> = {},
): Promise<Record<string, number>> {
  const rows = await model.aggregate<{ _id: string; n: number }>([
    { $match: { ...filter, [sealedField]: { $type: 'string' } } },
    {
      $group: {
        _id: { $arrayElemAt: [{ $split: [`$${sealedField}`, '.'] }, 1] },
        n: { $sum: 1 },
      },
    },
  ]);
  return Object.fromEntries(rows.map((r) => [String(r._id), r.n]));
}

/** The reseal and count operations on one SQLite table column (`keyColumn` unique). */
export function sqliteSealedColumn(
  store: SqliteStoreHandle,
  table: string,
  keyColumn: string,
  sealedColumn: string,
): SealedValueStore {
  const { db, writeTurns } = store;
  const notUnder = new LimitedStatement<[number, string, string], SealedValue>(
    db,
    sqliteSealedPageSql(table, keyColumn, sealedColumn),
  );
  return {
    async listSealedNotUnder(version, afterKey, limit) {
      const prefix = sealedPrefix(version);
      return notUnder.all([prefix.length, prefix, afterKey], limit);
    },
    async replaceSealed(key, expected, next) {
      const replace = db.prepare(
        `UPDATE ${table} SET ${sealedColumn} = ? WHERE ${keyColumn} = ? AND ${sealedColumn} = ?`,
      );
      return (await writeTurns.write(() => replace.run(next, key, expected))).changes === 1;
    },
    async countByVersion() {
      const rows = db.prepare(sqliteSealedCountSql(table, sealedColumn)).all() as {
        version: string;
        n: number;
      }[];
      return sealedCountsByVersion(rows);
    },
  };
}

/** The reseal and count operations on one MongoDB field (`keyField` unique). */
export function mongoSealedField<T>(
  model: Model<T>,
  keyField: string,
  sealedField: string,
): SealedValueStore {
  return {
    async listSealedNotUnder(version, afterKey, limit) {
      const escaped = sealedPrefix(version).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const docs = await model
        .find(
          {
            [sealedField]: { $type: 'string', $not: new RegExp(`^${escaped}`) },
            [keyField]: { $gt: afterKey },
          } as never,
          { [keyField]: 1, [sealedField]: 1 },
        )
        .sort({ [keyField]: 1 })
        .limit(limit)
        .lean<Record<string, string>[]>();
      return docs.map((d) => ({ key: String(d[keyField]), sealed: d[sealedField] }));
    },
    async replaceSealed(key, expected, next) {
      const result = await model.updateOne(
        { [keyField]: key, [sealedField]: expected } as never,
        { $set: { [sealedField]: next } } as never,
      );
      return result.modifiedCount === 1;
    },
    countByVersion() {
      return mongoSealedCount(model, sealedField);
    },
  };
}
