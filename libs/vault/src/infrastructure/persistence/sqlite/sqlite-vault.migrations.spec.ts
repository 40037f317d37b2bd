import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '@app/common';
import { SqliteStore } from '@app/persistence';
import {
  auditRecordHash,
  chainEntry,
  GENESIS_HASH,
  VAULT_ACTIONS,
  VAULT_RESULTS,
  VaultAction,
  VaultAuditEntry,
  VaultAuditRecord,
} from '../../../domain/vault-audit-record';
import { VaultAuditSqliteMapper as Mapper } from './mappers/vault-audit.mapper';
import { SqliteVaultAuditRepository } from './repositories/sqlite-vault-audit.repository';
import { VAULT_AUDIT_SQLITE_MIGRATIONS } from './sqlite-vault.migrations';

const SCOPE = 'vault.audit';

function entry(overrides: Partial<VaultAuditEntry> = {}): VaultAuditEntry {
  return {
    id: newId(),
    fileId: 'f1',
    actor: 'auditor:000000000000',
    role: 'auditor',
    ip: '127.0.0.1',
    purpose: 'case review',
    action: 'read',
    result: 'allowed',
    at: new Date('2026-01-01T00:00:00.000Z'),
    ...overrides,
  };
}

/**
 * An audit file as migrations 1–3 left it, with records written straight into it (that schema
 * took any action or result): returns them as linked.
 */
function oldAudit(path: string, entries: VaultAuditEntry[]): VaultAuditRecord[] {
  const store = new SqliteStore(path);
  store.migrate(
    SCOPE,
    VAULT_AUDIT_SQLITE_MIGRATIONS.filter((m) => m.version <= 3),
  );
  const insert = store.db.prepare(
    `INSERT INTO vault_audit (seq, id, file_id, actor, role, ip, purpose, action, result, reason, at, prev_hash, record_hash)
     VALUES (@seq, @id, @file_id, @actor, @role, @ip, @purpose, @action, @result, @reason, @at, @prev_hash, @record_hash)`,
  );
  let head: { seq: number; hash: string } | undefined;
  const records = entries.map((e) => {
    const record = chainEntry(e, head);
    insert.run(Mapper.toPersistence(record));
    head = { seq: record.seq, hash: record.recordHash };
    return record;
  });
  store.db.close();
  return records;
}

function indexesOf(store: SqliteStore): string[] {
  return store.db
    .prepare<[], { name: string }>(
      "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'vault_audit' AND sql IS NOT NULL ORDER BY name",
    )
    .all()
    .map((r) => r.name);
}

describe('SQLite vault audit migration 4: action and result only from the catalogue', () => {
  let dir: string;
  let store: SqliteStore | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-vault-audit-migrate-'));
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('should upgrade a file with old records in place: every record kept as hashed, the indexes again, the chain going on', async () => {
    const path = join(dir, 'old.sqlite');
    const old = oldAudit(path, [
      ...VAULT_ACTIONS.flatMap((action) =>
        VAULT_RESULTS.map((result) =>
          entry({ action, result, ...(result === 'allowed' ? {} : { reason: 'tampered' }) }),
        ),
      ),
      // a refusal audited before any file or purpose existed
      entry({ fileId: '', purpose: '', ip: '', result: 'denied', reason: 'missing_purpose' }),
    ]);
    const before = new SqliteStore(path);
    const indexes = indexesOf(before);
    before.db.close();

    store = new SqliteStore(path);
    const sut = new SqliteVaultAuditRepository(store); // applies migration 4
    const stored = await sut.listInOrder({ limit: 100 });
    expect(stored).toEqual(old);
    let prev = GENESIS_HASH;
    for (const record of stored) {
      expect(record.prevHash).toBe(prev);
      expect(auditRecordHash(record, record.seq, record.prevHash)).toBe(record.recordHash);
      prev = record.recordHash;
    }
    expect(indexesOf(store)).toEqual(indexes);
    expect(await sut.listInOrder({ action: 'purge', result: 'failed', limit: 10 })).toEqual(
      old.filter((r) => r.action === 'purge' && r.result === 'failed'),
    );
    const next = await sut.appendToChain((head) => chainEntry(entry(), head));
    expect(next).toMatchObject({ seq: old.length + 1, prevHash: prev });

    // and the table now refuses what the catalogue does not hold
    const outcome = await sut
      .appendToChain((head) => chainEntry(entry({ action: 'copy' as VaultAction }), head))
      .then(
        () => 'stored',
        (error: { message?: string }) => String(error.message),
      );
    expect(outcome).toMatch(/CHECK constraint failed/);
  });

  it('should not open a file holding a record outside the catalogue, and leave it as it was', () => {
    const path = join(dir, 'stray.sqlite');
    const old = oldAudit(path, [entry(), entry({ action: 'copy' as VaultAction }), entry()]);
    store = new SqliteStore(path);
    expect(() => new SqliteVaultAuditRepository(store!)).toThrow(/CHECK constraint failed/);
    // the migration's transaction rolled back: the old table, its rows, no version 4
    expect(
      store.db
        .prepare<[], { seq: number; action: string }>(
          'SELECT seq, action FROM vault_audit ORDER BY seq',
        )
        .all(),
    ).toEqual(old.map((r) => ({ seq: r.seq, action: r.action })));
    expect(
      store.db
        .prepare<[string], { version: number }>(
          'SELECT version FROM schema_migrations WHERE scope = ? ORDER BY version',
        )
        .all(SCOPE)
        .map((r) => r.version),
    ).toEqual([1, 2, 3]);
  });
});

describe("SQLite vault audit migration 5: the server's tag beside each record", () => {
  let dir: string;
  let store: SqliteStore | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-vault-audit-tags-'));
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('should keep the records of a file from before the tags as hashed, untagged, and tag the next', async () => {
    const path = join(dir, 'old.sqlite');
    const old = oldAudit(path, [entry(), entry({ action: 'store' })]);
    // migration 4 too, as a deployment before the tags left the file
    const before = new SqliteStore(path);
    before.migrate(
      SCOPE,
      VAULT_AUDIT_SQLITE_MIGRATIONS.filter((m) => m.version <= 4),
    );
    before.db.close();

    store = new SqliteStore(path);
    const sut = new SqliteVaultAuditRepository(store); // applies migration 5
    expect(await sut.readTagged(1, 2)).toEqual(
      old.map((record) => ({ record, mac: null, kid: null })),
    );
    const next = await sut.appendToChain(
      (head) => chainEntry(entry(), head),
      () => ({ mac: 'tag', kid: 'kid' }),
    );
    expect(next).toMatchObject({ seq: 3, prevHash: old[1].recordHash });
    expect(await sut.readTagged(3, 3)).toEqual([{ record: next, mac: 'tag', kid: 'kid' }]);
    expect(await sut.headSeq()).toBe(3);
    const versions = store.db
      .prepare<[string], { version: number }>(
        'SELECT version FROM schema_migrations WHERE scope = ? ORDER BY version',
      )
      .all(SCOPE)
      .map((r) => r.version);
    expect(versions).toEqual([1, 2, 3, 4, 5]);
  });
});
