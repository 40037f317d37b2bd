import { Injectable } from '@nestjs/common';
import type { Database, Statement } from 'better-sqlite3';
import {
  LimitedStatement,
  SqliteMigration,
  SqliteStoreHandle,
  SqliteWriteTurns,
} from '@app/persistence';
import { SignedCheckpoint } from '../../../domain/checkpoint';
import { HASH_BYTES, MerkleNode, NodeKey, nodeId } from '../../../domain/merkle';
import { TlogRepository } from '../tlog.repository';

const MIGRATIONS: SqliteMigration[] = [
  {
    version: 1,
    name: 'transparency log trees and checkpoints',
    up: `
      CREATE TABLE tlog_logs (id INTEGER PRIMARY KEY, origin TEXT NOT NULL UNIQUE);
      CREATE TABLE tlog_nodes (
        log_id INTEGER NOT NULL,
        level INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        hash BLOB NOT NULL,
        PRIMARY KEY (log_id, level, idx)
      ) WITHOUT ROWID;
      CREATE TABLE tlog_checkpoints (
        log_id INTEGER NOT NULL,
        size INTEGER NOT NULL,
        root_hash TEXT NOT NULL,
        signed_at TEXT NOT NULL,
        note TEXT NOT NULL,
        PRIMARY KEY (log_id, size)
      ) WITHOUT ROWID;
    `,
  },
];

interface CheckpointRow {
  size: number;
  root_hash: string;
  signed_at: string;
  note: string;
}

/**
 * A run of one level's nodes at consecutive indexes (first, first + 1, …, first + count − 1) in
 * one statement: their hashes are the run's 32-byte slices of one blob, in index order, and
 * `@places` is a JSON array of `count` zeros, whose `json_each` keys (0 … count − 1) number
 * the rows. An append's new nodes are such runs (one per level), so a 500-entry seal is some
 * 10 to 20 statements instead of 1,000: each `run` call costs more than its row's B-tree
 * insert (1,000 rows per transaction: 1.24 ms as single-row runs, 0.94 ms with a recursive
 * CTE numbering the rows, 0.72 ms with `json_each`, which makes no ephemeral table).
 */
export const TLOG_NODE_RUN_SQL = `INSERT INTO tlog_nodes (log_id, level, idx, hash)
  SELECT @logId, @level, @first + key, substr(@hashes, key * ${HASH_BYTES} + 1, ${HASH_BYTES})
  FROM json_each(@places) WHERE true
  ON CONFLICT DO NOTHING`;

interface NodeRun {
  logId: number;
  level: number;
  first: number;
  places: string;
  hashes: Buffer;
}

/** A page of one log's checkpoints after a size (the primary key's range). */
export const TLOG_CHECKPOINT_PAGE_SQL =
  'SELECT * FROM tlog_checkpoints WHERE log_id = ? AND size > ? ORDER BY size LIMIT ?';

/**
 * The latest checkpoint of each log of `?` (a JSON array of origins): per origin, one seek of
 * the origins' unique index, one of the checkpoints' primary key for the last entry of the
 * log's range (its largest size), then that row. Never a read of a log's other checkpoints.
 */
export const TLOG_LATEST_OF_EACH_SQL = `SELECT l.origin AS origin, c.* FROM json_each(?) j
  JOIN tlog_logs l ON l.origin = j.value
  JOIN tlog_checkpoints c ON c.log_id = l.id AND c.size = (
    SELECT m.size FROM tlog_checkpoints m WHERE m.log_id = l.id ORDER BY m.size DESC LIMIT 1
  )`;

@Injectable()
export class SqliteTlogRepository extends TlogRepository {
  private readonly db: Database;
  private readonly turns: SqliteWriteTurns;
  private readonly ids = new Map<string, number>();
  private readonly insertNode: Statement<[number, number, number, Buffer]>;
  private readonly insertNodeRun: Statement<[NodeRun]>;
  private readonly replaceNode: Statement<[number, number, number, Buffer]>;
  private readonly selectNode: Statement<[number, number, number], { hash: Buffer }>;
  private readonly insertCheckpoint: Statement<[number, number, string, string, string]>;
  private readonly checkpointPage: LimitedStatement<[number, number], CheckpointRow>;
  /**
   * The largest checkpoint below a size, and the one of a size: prepared once (each seal reads
   * the latest row, a statement prepared per call cost more than the read)
   */
  private readonly latestBelow: Statement<[number, number], CheckpointRow>;
  private readonly checkpointOfSize: Statement<[number, number], CheckpointRow>;
  /** `latestCheckpoints`' statement (prepared on first use). */
  private latestOfEach?: Statement<[string], CheckpointRow & { origin: string }>;

  constructor(store: SqliteStoreHandle) {
    super();
    store.migrate('tlog', MIGRATIONS);
    this.db = store.db;
    this.turns = store.writeTurns;
    this.insertNode = this.db.prepare(
      'INSERT INTO tlog_nodes (log_id, level, idx, hash) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
    );
    this.insertNodeRun = this.db.prepare(TLOG_NODE_RUN_SQL);
    this.replaceNode = this.db.prepare(
      `INSERT INTO tlog_nodes (log_id, level, idx, hash) VALUES (?, ?, ?, ?)
       ON CONFLICT (log_id, level, idx) DO UPDATE SET hash = excluded.hash`,
    );
    this.selectNode = this.db.prepare(
      'SELECT hash FROM tlog_nodes WHERE log_id = ? AND level = ? AND idx = ?',
    );
    this.insertCheckpoint = this.db.prepare(
      `INSERT INTO tlog_checkpoints (log_id, size, root_hash, signed_at, note) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
    );
    this.checkpointPage = new LimitedStatement(this.db, TLOG_CHECKPOINT_PAGE_SQL);
    this.latestBelow = this.db.prepare(
      'SELECT * FROM tlog_checkpoints WHERE log_id = ? AND size < ? ORDER BY size DESC LIMIT 1',
    );
    this.checkpointOfSize = this.db.prepare(
      'SELECT * FROM tlog_checkpoints WHERE log_id = ? AND size = ?',
    );
  }

  async putNodes(origin: string, nodes: MerkleNode[]): Promise<void> {
    const id = await this.logId(origin);
    await this.turns.write(() =>
      this.db
        .transaction(() => {
          for (const run of runsOf(nodes)) {
            if (run.length === 1) {
              const n = run[0];
              this.insertNode.run(id, n.level, n.index, n.hash);
            } else {
              this.insertNodeRun.run({
                logId: id,
                level: run[0].level,
                first: run[0].index,
                places: `[${'0,'.repeat(run.length - 1)}0]`,
                hashes: Buffer.concat(run.map((n) => n.hash)),
              });
            }
          }
        })
        .immediate(),
    );
  }

  async replaceNodes(origin: string, nodes: MerkleNode[]): Promise<void> {
    const id = await this.logId(origin);
    // a repair, rare: one statement a node
    await this.turns.write(() =>
      this.db
        .transaction(() => {
          for (const n of nodes) this.replaceNode.run(id, n.level, n.index, n.hash);
        })
        .immediate(),
    );
  }

  async findNodes(origin: string, keys: NodeKey[]): Promise<Map<string, Buffer>> {
    const id = this.knownLogId(origin);
    const found = new Map<string, Buffer>();
    if (id === undefined) return found;
    for (const key of keys) {
      const row = this.selectNode.get(id, key.level, key.index);
      if (row) found.set(nodeId(key), row.hash);
    }
    return found;
  }

  async saveCheckpoint(c: SignedCheckpoint): Promise<void> {
    const id = await this.logId(c.origin);
    await this.turns.write(() =>
      this.insertCheckpoint.run(id, c.size, c.rootHash, c.signedAt.toISOString(), c.note),
    );
  }

  async latestCheckpoint(
    origin: string,
    belowSize = Number.MAX_SAFE_INTEGER,
  ): Promise<SignedCheckpoint | undefined> {
    const id = this.knownLogId(origin);
    if (id === undefined) return undefined;
    const row = this.latestBelow.get(id, belowSize);
    return row ? toDomain(origin, row) : undefined;
  }

  async latestCheckpoints(origins: string[]): Promise<Map<string, SignedCheckpoint>> {
    const found = new Map<string, SignedCheckpoint>();
    if (origins.length === 0) return found;
    const statement = (this.latestOfEach ??= this.db.prepare(TLOG_LATEST_OF_EACH_SQL));
    for (const row of statement.all(JSON.stringify(origins)))
      found.set(row.origin, toDomain(row.origin, row));
    return found;
  }

  async checkpointAt(origin: string, size: number): Promise<SignedCheckpoint | undefined> {
    const id = this.knownLogId(origin);
    if (id === undefined) return undefined;
    const row = this.checkpointOfSize.get(id, size);
    return row ? toDomain(origin, row) : undefined;
  }

  async origins(): Promise<string[]> {
    return this.db
      .prepare<[], { origin: string }>(
        'SELECT origin FROM tlog_logs l WHERE EXISTS (SELECT 1 FROM tlog_checkpoints c WHERE c.log_id = l.id) ORDER BY origin',
      )
      .all()
      .map((row) => row.origin);
  }

  async listCheckpoints(
    origin: string,
    afterSize: number,
    limit: number,
  ): Promise<SignedCheckpoint[]> {
    const id = this.knownLogId(origin);
    if (id === undefined) return [];
    return this.checkpointPage.all([id, afterSize], limit).map((row) => toDomain(origin, row));
  }

  /** The log's id, registering the log on its first write (in a write turn). */
  private async logId(origin: string): Promise<number> {
    const known = this.knownLogId(origin);
    if (known !== undefined) return known;
    const insert = this.db.prepare(
      'INSERT INTO tlog_logs (origin) VALUES (?) ON CONFLICT DO NOTHING',
    );
    await this.turns.write(() => insert.run(origin));
    return this.knownLogId(origin)!;
  }

  /** The log's id if it has one (a read: a log no one wrote to has nothing to read). */
  private knownLogId(origin: string): number | undefined {
    let id = this.ids.get(origin);
    if (id === undefined) {
      id = this.db
        .prepare<[string], { id: number }>('SELECT id FROM tlog_logs WHERE origin = ?')
        .get(origin)?.id;
      if (id !== undefined) this.ids.set(origin, id);
    }
    return id;
  }
}

/**
 * The nodes as runs of one level at consecutive indexes, each run in index order (any order and
 * any repeats in; of a repeated node the first is kept, as the rows keep the first). A node
 * whose hash is not 32 bytes is a run of its own (a run's blob is cut in 32-byte slices).
 */
function runsOf(nodes: MerkleNode[]): MerkleNode[][] {
  // by level, in the order given: an append's nodes are in index order on each level already
  const levels: MerkleNode[][] = [];
  const runs: MerkleNode[][] = [];
  for (const n of nodes) {
    // a tree of 2^53 leaves has 54 levels; any other level is stored as given, by itself
    if (Number.isInteger(n.level) && n.level >= 0 && n.level < 64) (levels[n.level] ??= []).push(n);
    else runs.push([n]);
  }
  for (const level of levels) {
    if (!level) continue;
    let sorted = true;
    for (let i = 1; i < level.length && sorted; i++) sorted = level[i - 1].index < level[i].index;
    // stable: of equal indexes, the first given stays first
    if (!sorted) level.sort((a, b) => a.index - b.index);
    let run: MerkleNode[] = [];
    for (const n of level) {
      const last = run[run.length - 1];
      if (last && last.index === n.index) continue;
      if (
        last &&
        last.index + 1 === n.index &&
        n.hash.length === HASH_BYTES &&
        last.hash.length === HASH_BYTES
      ) {
        run.push(n);
        continue;
      }
      if (run.length > 0) runs.push(run);
      run = [n];
    }
    if (run.length > 0) runs.push(run);
  }
  return runs;
}

function toDomain(origin: string, row: CheckpointRow): SignedCheckpoint {
  return {
    origin,
    size: row.size,
    rootHash: row.root_hash,
    signedAt: new Date(row.signed_at),
    note: row.note,
  };
}
