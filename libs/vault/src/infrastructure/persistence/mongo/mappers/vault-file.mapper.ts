import { ShredReason, VaultFile } from '../../../../domain/vault-file';
import { VaultFileDocument } from '../schemas/vault-file.schema';

export class VaultFileMongoMapper {
  static toDomain(doc: VaultFileDocument): VaultFile {
    return {
      id: doc._id,
      contentType: doc.contentType,
      size: doc.size,
      sha256: doc.sha256,
      wrappedKey: doc.wrappedKey ?? undefined,
      keyVersion: doc.keyVersion,
      createdBy: doc.createdBy,
      createdAt: new Date(doc.createdAt),
      shreddedAt: doc.shreddedAt ? new Date(doc.shreddedAt) : undefined,
      shredReason: (doc.shredReason as ShredReason | null) ?? undefined,
    };
  }

  static toPersistence(file: VaultFile): VaultFileDocument {
    return {
      _id: file.id,
      contentType: file.contentType,
      size: file.size,
      sha256: file.sha256,
      wrappedKey: file.wrappedKey ?? null,
      keyVersion: file.keyVersion,
      createdBy: file.createdBy,
      createdAt: file.createdAt,
      shreddedAt: file.shreddedAt ?? null,
      shredReason: file.shredReason ?? null,
    };
  }
}
