import { ShredReason, VaultFile } from '../../../../domain/vault-file';

export interface VaultFileRow {
  id: string;
  content_type: string;
  size: number;
  sha256: string;
  wrapped_key: string | null;
  key_version: string;
  created_by: string;
  created_at: string;
  shredded_at: string | null;
  shred_reason: string | null;
}

export class VaultFileSqliteMapper {
  static toDomain(row: VaultFileRow): VaultFile {
    return {
      id: row.id,
      contentType: row.content_type,
      size: row.size,
      sha256: row.sha256,
      wrappedKey: row.wrapped_key ?? undefined,
      keyVersion: row.key_version,
      createdBy: row.created_by,
      createdAt: new Date(row.created_at),
      shreddedAt: row.shredded_at ? new Date(row.shredded_at) : undefined,
      shredReason: (row.shred_reason as ShredReason | null) ?? undefined,
    };
  }

  static toPersistence(file: VaultFile): VaultFileRow {
    return {
      id: file.id,
      content_type: file.contentType,
      size: file.size,
      sha256: file.sha256,
      wrapped_key: file.wrappedKey ?? null,
      key_version: file.keyVersion,
      created_by: file.createdBy,
      created_at: file.createdAt.toISOString(),
      shredded_at: file.shreddedAt?.toISOString() ?? null,
      shred_reason: file.shredReason ?? null,
    };
  }
}
