import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import {
  Admission,
  ApiKeyService,
  Clock,
  AuthError,
  CommonError,
  firstIdAt,
  isObjectId,
  newId,
  Role,
  storageErrorOf,
} from '@app/common';
import { KeyringService } from './keyring/keyring.service';
import {
  BlobIntegrityError,
  BlobOpener,
  BlobSealer,
  decryptBlob,
  ExpectedContent,
  PlaintextSummary,
} from './domain/vault-blob-format';
import { HeldPlaintext, ReadHold } from './domain/held-plaintext';
import { releaseBuffers } from './domain/release-buffers';
import { checkedImage, nonEmpty } from './domain/image-signature';
import { VaultAction } from './domain/vault-audit-record';
import { metadataDigest, StoredFile, VaultActor, VaultFile } from './domain/vault-file';
import { OpenBlob, VaultBlobStorage } from './infrastructure/blob/vault-blob.storage';
import { KeyHoldersService } from './keyring/key-holders.service';
import { VaultFileRepository } from './infrastructure/persistence/vault-file.repository';
import { AuditReceipt, VaultAuditService } from './vault-audit.service';
import { vaultConfig, VaultSettings } from './vault.config';
import { VaultError } from './vault.errors';

/** What a reader gets: the file's metadata and its plaintext, authenticated chunk by chunk. */
export interface VaultReadHandle {
  fileId: string;
  contentType: string;
  size: number;
  sha256: string;
  /**
   * Throws (after auditing) at the first chunk that fails authentication. Call `return()` on a
   * body not read to its end (`Readable.from` does): a held body gives its bytes back then.
   */
  body: AsyncIterableIterator<Buffer>;
  /** The allowed read's audit record, proven in the signed audit log. */
  receipt: AuditReceipt;
}

/** Who asks (an API key, maybe none) from where; a refusal's audit receipt is handed back. */
export interface VaultCredential {
  apiKey?: string;
  ip?: string;
  onDeniedReceipt?: (receipt: AuditReceipt) => void;
}

/** The master key versions in use, over every sealed value of every module. */
export interface KeyUsage {
  activeVersion: string;
  /** Sealed values per master key version: vault data keys and every module's sealed values. */
  inUse: Record<string, number>;
  /** The same by owner (`vault data keys`, `worker-device secrets`, …) and version. */
  byOwner: Record<string, Record<string, number>>;
  /** Versions of VAULT_KEYS, other than the active one, that nothing is sealed under: they can be dropped. */
  droppable: string[];
  /** Versions values are sealed under that this server's VAULT_KEYS does not hold. */
  missing: string[];
  /** Of `missing`, those no live server holds either: no server can open those values now. */
  unheld: string[];
}

export interface RotationReport {
  activeVersion: string;
  rewrapped: number;
  failed: string[];
  usage: KeyUsage;
}

const PURPOSE = /^[\p{L}\p{N}\p{P}\p{Zs}]{3,200}$/u;
const AUDITABLE_ID = /^[A-Za-z0-9_-]{1,64}$/;
const PAGE = 100;
const DAY_MS = 24 * 60 * 60 * 1000;

export const SYSTEM_RETENTION_ACTOR: VaultActor = { actor: 'system:retention', role: 'system' };

/**
 * Encrypted biometric storage with audited access: the only way into UPLOADS_DIR.
 *
 * Each file gets a fresh 256-bit data key, sealed by the keyring's active master key with the
 * file id as context (the sealed key lives in the metadata store, never beside the blob).
 * Every access attempt is written to the hash-chained audit log before anything is served;
 * if that write fails, the access fails.
 */
@Injectable()
export class VaultService {
  private readonly logger = new Logger(VaultService.name);
  private readonly maxFileBytes: number;
  readonly retentionDays: number;
  /** Plaintext held by reads served from their check's pass (`read`). */
  private readonly hold: ReadHold;

  constructor(
    @Inject(vaultConfig.KEY) vault: VaultSettings,
    private readonly keyring: KeyringService,
    private readonly files: VaultFileRepository,
    private readonly blobs: VaultBlobStorage,
    private readonly audit: VaultAuditService,
    private readonly apiKeys: ApiKeyService,
    private readonly clock: Clock,
    private readonly keyHolders: KeyHoldersService,
  ) {
    this.maxFileBytes = vault.maxFileBytes;
    this.retentionDays = vault.retentionDays;
    this.hold = new ReadHold(vault.readHoldBytes);
  }

  /** Plaintext bytes this process's reads hold now (`VAULT_READ_HOLD_BYTES`; /metrics). */
  get heldBytes(): number {
    return this.hold.bytes;
  }

  /**
   * Checks an API key against the roles a vault route accepts, auditing a refusal before
   * answering 401/403 with the standard error body. A known key of another role (403) gets
   * its refusal's audit receipt (`onDeniedReceipt`, which the controller puts in
   * `x-audit-receipt`), as any valid key reading a file would; a caller with no valid key
   * (401) does not: a receipt carries the audit log's signed checkpoint (its size and root,
   * so how busy the vault is), which is the deployment's to know, not an outsider's.
   */
  async admit(
    credential: VaultCredential,
    roles: readonly Role[],
    action: VaultAction,
    fileId: string,
    purpose: string | undefined,
  ): Promise<VaultActor> {
    const attempt = { fileId: auditableId(fileId), purpose: auditablePurpose(purpose), action };
    let admission: Admission;
    try {
      admission = this.apiKeys.authorize(credential.apiKey, roles);
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      // a known key of another role is recorded by its first role and key id
      const known = error.principal;
      const { receipt } = await this.audit.recordWithReceipt({
        ...attempt,
        actor: known
          ? { actor: `${known.roles[0]}:${known.keyId}`, role: known.roles[0], ip: credential.ip }
          : { actor: 'anonymous', role: 'none', ip: credential.ip },
        result: 'denied',
        reason: error.code,
      });
      if (known) credential.onDeniedReceipt?.(receipt);
      throw error;
    }
    const { principal, role } = admission;
    return { actor: `${role}:${principal.keyId}`, role, ip: credential.ip };
  }

  /** Stores one in-memory image (e.g. a kiosk's face capture) and returns its id. */
  async storeBuffer(
    data: Buffer,
    contentType: string,
    actor: VaultActor,
    purpose: string,
  ): Promise<StoredFile> {
    return this.store(
      (async function* () {
        yield data;
      })(),
      contentType,
      actor,
      purpose,
      data.length,
    );
  }

  /**
   * Encrypts a plaintext stream to disk without holding it in memory; refuses other content
   * types (415), a JPEG, PNG or WebP body without its type's signature (415
   * `image_type_mismatch`) and more than VAULT_MAX_FILE_BYTES (413, also when `declaredBytes`
   * says so).
   *
   * `releaseSource`: the source's pieces are the vault's alone (an HTTP request's body chunks,
   * which the parser copied for it), so each one's memory is freed once it is sealed, and each
   * record's ciphertext once it is written (`releaseBuffers`): a store then adds about one
   * chunk's worth to V8's external memory, not twice the file (which started a full collection
   * per 32 MiB store). Never for a caller's buffer (`storeBuffer`): it would read as empty.
   */
  async store(
    source: AsyncIterable<Buffer | Uint8Array | string>,
    contentType: string,
    actor: VaultActor,
    purpose: string,
    declaredBytes?: number,
    releaseSource = false,
  ): Promise<StoredFile> {
    const attempt = { actor, purpose: auditablePurpose(purpose), action: 'store' as const };
    const type = normalizeContentType(contentType);
    if (!type) {
      await this.audit.record({
        ...attempt,
        fileId: '',
        result: 'failed',
        reason: 'unsupported_media_type',
      });
      throw new VaultError(
        'unsupported_media_type',
        'The vault stores images (image/*) or application/octet-stream',
      );
    }
    if (!validPurpose(purpose)) {
      await this.audit.record({
        ...attempt,
        fileId: '',
        result: 'denied',
        reason: 'missing_purpose',
      });
      throw missingPurpose();
    }
    if (declaredBytes !== undefined && declaredBytes > this.maxFileBytes) {
      await this.audit.record({
        ...attempt,
        fileId: '',
        result: 'failed',
        reason: 'payload_too_large',
      });
      throw tooLarge(this.maxFileBytes);
    }
    // JPEG, PNG and WebP must start with their signature: checked on the body's first bytes,
    // before any file is opened (a mismatch leaves nothing on disk)
    let body: AsyncIterable<Buffer | Uint8Array | string> | undefined;
    let empty = false;
    try {
      const filled = await nonEmpty(source);
      empty = filled === undefined;
      body = filled && (await checkedImage(filled, type));
    } catch (error) {
      const refused = storeFailure(error);
      await this.audit.record({ ...attempt, fileId: '', result: 'failed', reason: refused.code });
      if (refused.code !== 'request_aborted') {
        this.logger.error({ err: error }, 'Vault store failed');
      }
      throw refused;
    }
    if (empty) {
      await this.audit.record({ ...attempt, fileId: '', result: 'failed', reason: 'empty_file' });
      throw new VaultError('empty_file', 'The upload has no bytes: nothing was stored');
    }
    if (!body) {
      await this.audit.record({
        ...attempt,
        fileId: '',
        result: 'failed',
        reason: 'image_type_mismatch',
      });
      throw new VaultError(
        'image_type_mismatch',
        `The body does not start with the ${type} signature: send the image's own type, or application/octet-stream`,
      );
    }
    const fileId = newId();
    const dataKey = randomBytes(32);
    const meter = new PlaintextMeter(this.maxFileBytes, releaseSource);
    // the metadata reads and retention decide on, bound into the blob's final chunk (version 3)
    const bound = { contentType: type, createdAt: this.clock.now(), createdBy: actor.actor };
    try {
      const wrappedKey = this.keyring.seal(dataKey, dataKeyContext(fileId));
      const sealer = new BlobSealer(dataKey, fileId, { metadata: metadataDigest(bound) });
      await this.blobs.write(fileId, meter.seal(body, sealer), releaseSource);
      const file: VaultFile = {
        id: fileId,
        size: meter.bytes,
        sha256: meter.digest(),
        wrappedKey,
        keyVersion: this.keyring.versionOf(wrappedKey),
        ...bound,
      };
      await this.files.create(file);
    } catch (error) {
      await this.blobs.remove(fileId).catch(() => undefined);
      const refused = storeFailure(error);
      await this.audit.record({ ...attempt, fileId, result: 'failed', reason: refused.code });
      // the client's own faults (too large, interrupted) are answers, not failures to log
      if (refused.code !== 'payload_too_large' && refused.code !== 'request_aborted') {
        this.logger.error({ fileId, err: error }, 'Vault store failed');
      }
      throw refused;
    } finally {
      dataKey.fill(0);
    }
    try {
      await this.audit.record({ ...attempt, fileId, result: 'allowed' });
    } catch (error) {
      // fail closed: a file whose storing is not on record does not stay in the vault
      await this.files.shred(fileId, 'deleted', this.clock.now()).catch(() => undefined);
      await this.blobs.remove(fileId).catch(() => undefined);
      throw error;
    }
    this.logger.log({ fileId, size: meter.bytes, actor: actor.actor }, 'Vault file stored');
    return { fileId, size: meter.bytes, sha256: meter.digest() };
  }

  /**
   * Opens a file for reading. The attempt is audited (allowed or not) before this returns;
   * the whole blob is authenticated before that (its final tag included: a version 2 file's
   * binds the record's size and digest, a version 1 file is hashed), so a tampered blob is
   * refused before any byte is served; a file beyond the read hold is decrypted again as it is
   * sent, and only a change in place between the two passes can stop its body part-way.
   */
  async read(
    fileId: string,
    actor: VaultActor,
    purpose: string | undefined,
  ): Promise<VaultReadHandle> {
    const attempt = {
      fileId: auditableId(fileId),
      actor,
      purpose: auditablePurpose(purpose),
      action: 'read' as const,
    };
    if (!validPurpose(purpose)) {
      await this.audit.record({ ...attempt, result: 'denied', reason: 'missing_purpose' });
      throw missingPurpose();
    }
    const file = await this.findLive(fileId, attempt);
    // what the store never writes is a record changed outside the server (any blob version:
    // a version 3 blob's final tag also binds the values, versions 1 and 2 bind none of them)
    if (normalizeContentType(file.contentType) !== file.contentType || !validDate(file.createdAt)) {
      this.logger.warn({ fileId: file.id, reason: 'metadata_invalid' }, 'Vault read refused');
      await this.audit.record({ ...attempt, result: 'failed', reason: 'metadata_invalid' });
      throw integrityFailure();
    }
    let dataKey: Buffer;
    try {
      dataKey = this.keyring.open(file.wrappedKey!, dataKeyContext(file.id));
    } catch (error) {
      const code = error instanceof VaultError ? error.code : 'key_unwrap_failed';
      await this.audit.record({ ...attempt, result: 'failed', reason: code });
      if (code === 'key_unavailable') {
        throw new VaultError(
          'key_unavailable',
          `This file's data key is wrapped by key version ${file.keyVersion}, which this server's VAULT_KEYS does not hold: restart it with a VAULT_KEYS that holds it (the current VAULT_KEYS during a key rollout; on a store restored from a backup, the version dropped since, added back)`,
        );
      }
      throw integrityFailure();
    }
    // the whole file is authenticated, and its size and SHA-256 compared with the metadata,
    // before anything is served: no header goes out for bytes that do not match (a version 2
    // blob's final chunk authenticates only with the metadata's size and SHA-256: no hashing;
    // a version 1 blob's plaintext is hashed). A file that fits the reads' hold is served from
    // that pass; a larger one is read and decrypted again.
    const held = this.hold.take(file.size) ? new HeldPlaintext(this.hold, file.size) : undefined;
    // read twice: the blob is opened once for both passes, so the second reads what the first
    // checked even when a delete removes it meanwhile (the read was allowed before the delete)
    const blob = held
      ? undefined
      : await this.blobs.open(file.id, file.size).catch(() => undefined);
    const fault =
      held || blob
        ? await this.checkPlaintext(
            file,
            dataKey,
            blob?.read() ?? this.blobs.read(file.id, file.size),
            held?.chunks,
          )
        : 'blob_unreadable';
    if (fault) {
      dataKey.fill(0);
      await held?.return();
      await blob?.close().catch(() => undefined);
      // no blob to read because the file was deleted after it was found: gone, not tampered
      if (fault === 'blob_unreadable' && !(await this.files.findById(file.id))?.wrappedKey) {
        await this.audit.record({ ...attempt, result: 'failed', reason: 'file_deleted' });
        throw gone();
      }
      this.logger.warn({ fileId: file.id, reason: fault }, 'Vault read refused');
      await this.audit.record({ ...attempt, result: 'failed', reason: fault });
      throw integrityFailure();
    }
    let receipt: AuditReceipt;
    try {
      receipt = (await this.audit.recordWithReceipt({ ...attempt, result: 'allowed' })).receipt;
    } catch (error) {
      dataKey.fill(0);
      await held?.return();
      await blob?.close().catch(() => undefined);
      throw error;
    }
    let body: AsyncIterableIterator<Buffer>;
    if (held) {
      dataKey.fill(0);
      body = held;
    } else {
      const opened = blob!;
      body = withCleanup(this.serve(file, opened, dataKey, attempt), () => {
        dataKey.fill(0);
        void opened.close().catch(() => undefined);
      });
    }
    return {
      fileId: file.id,
      contentType: file.contentType,
      size: file.size,
      sha256: file.sha256,
      body,
      receipt,
    };
  }

  /**
   * Decrypts the whole blob once, flat in memory, or into `held` (its chunks, kept for serving);
   * says why it does not match, if it does not. The plaintext's SHA-256 is compared with the
   * metadata's: by the final chunk's tag for a version 2 blob (its AAD binds the size and digest
   * the writer sealed; the metadata's are given to the opener), by hashing for version 1.
   */
  private async checkPlaintext(
    file: VaultFile,
    dataKey: Buffer,
    ciphertext: AsyncIterable<Buffer>,
    held?: Buffer[],
  ): Promise<ReadFault | undefined> {
    const hash = createHash('sha256');
    const opener = new BlobOpener(dataKey, file.id, summaryOf(file));
    // the plaintext of the records one step authenticated: counted, hashed, then kept or wiped
    const parts: Buffer[] = [];
    let bytes = 0;
    const take = (): boolean => {
      for (let i = 0; i < parts.length; i++) {
        bytes += parts[i].length;
        // never more than the file's reservation (the blob may be longer than recorded)
        if (held && bytes > file.size) {
          parts.splice(0, i);
          return false;
        }
        // parts come only after the header: the opener knows the blob's version by then
        if (!opener.bindsDigest) hash.update(parts[i]);
        if (held) held.push(parts[i]);
        else parts[i].fill(0);
      }
      // a check that keeps nothing frees its plaintext now (the decipher's own buffers), not
      // when a collection finds it: see `releaseBuffers`
      if (!held) releaseBuffers(parts);
      parts.length = 0;
      return true;
    };
    try {
      for await (const piece of ciphertext) {
        opener.push(piece, parts);
        if (!take()) return 'size_mismatch';
      }
      opener.end(parts);
      if (!take()) return 'size_mismatch';
    } catch (error) {
      return readFaultOf(error);
    } finally {
      // what was not taken (a failure, or past the reservation) is wiped
      for (const part of parts) part.fill(0);
      releaseBuffers(parts);
    }
    if (bytes !== file.size) return 'size_mismatch';
    // version 2: the final tag authenticated the metadata's size and digest (`BlobOpener`)
    if (!opener.bindsDigest && hash.digest('hex') !== file.sha256) return 'digest_mismatch';
    return undefined;
  }

  /** Crypto-shreds a file: its data key is destroyed (the blob is unreadable), then removed. */
  async delete(
    fileId: string,
    actor: VaultActor,
    purpose: string | undefined,
  ): Promise<{ fileId: string; deletedAt: Date }> {
    const attempt = {
      fileId: auditableId(fileId),
      actor,
      purpose: validPurpose(purpose) ? purpose : 'delete',
      action: 'delete' as const,
    };
    const file = await this.findLive(fileId, attempt);
    await this.audit.record({ ...attempt, result: 'allowed' });
    const deletedAt = this.clock.now();
    if (!(await this.files.shred(file.id, 'deleted', deletedAt))) {
      await this.audit.recordQuietly({ ...attempt, result: 'failed', reason: 'file_deleted' });
      throw gone();
    }
    await this.blobs.remove(file.id);
    this.logger.log({ fileId: file.id, actor: actor.actor }, 'Vault file crypto-shredded');
    return { fileId: file.id, deletedAt };
  }

  /**
   * Crypto-shreds every live file older than VAULT_RETENTION_DAYS at `now`, each purge
   * audited first. Stops (throws) when the audit log cannot be written. A file is old by its
   * id's stamp alone (an ObjectId, its first 4 bytes the second it was made): the id is in the
   * blob's header and the data key's AAD, so it cannot be edited in the store, where the
   * record's `createdAt` can: moved into the future it kept a file, moved into the past it
   * shredded a file before its time (a disputed image destroyed as "retention").
   */
  async purgeExpired(now: Date = this.clock.now()): Promise<{ purged: number }> {
    const cutoff = new Date(now.getTime() - this.retentionDays * DAY_MS);
    const purpose = `retention period of ${this.retentionDays} days`;
    const idBound = firstIdAt(cutoff);
    let purged = 0;
    for (;;) {
      const batch = await this.files.listLiveIdBefore(idBound, PAGE);
      if (batch.length === 0) break;
      for (const file of batch) {
        await this.audit.record({
          fileId: file.id,
          actor: SYSTEM_RETENTION_ACTOR,
          purpose,
          action: 'purge',
          result: 'allowed',
          at: now,
        });
        if (await this.files.shred(file.id, 'retention', now)) purged++;
        await this.blobs.remove(file.id);
      }
    }
    if (purged > 0)
      this.logger.log({ purged, cutoff: cutoff.toISOString() }, 'Vault retention purge');
    return { purged };
  }

  /**
   * Re-wraps every live data key under the active master key. Blobs are not touched: only
   * the sealed data keys in the metadata store change.
   */
  async rotateKeys(): Promise<RotationReport> {
    const active = this.keyring.activeVersion;
    let rewrapped = 0;
    const failed = new Set<string>();
    for (;;) {
      const batch = (await this.files.listLiveNotWrappedBy(active, PAGE + failed.size)).filter(
        (file) => !failed.has(file.id),
      );
      if (batch.length === 0) break;
      for (const file of batch) {
        try {
          const resealed = this.keyring.reseal(file.wrappedKey!, dataKeyContext(file.id));
          if (
            resealed &&
            (await this.files.replaceWrappedKey(file.id, file.wrappedKey!, {
              wrappedKey: resealed,
              keyVersion: active,
            }))
          ) {
            rewrapped++;
          }
        } catch (error) {
          failed.add(file.id);
          this.logger.error(
            { fileId: file.id, keyVersion: file.keyVersion, err: error },
            'Vault data key could not be re-wrapped',
          );
        }
      }
    }
    const usage = await this.keyUsage();
    this.logger.log(
      { activeVersion: active, rewrapped, failed: failed.size },
      'Vault key rotation',
    );
    return { activeVersion: active, rewrapped, failed: [...failed], usage };
  }

  /**
   * Which master key versions seal something: live files' data keys and every sealed value of
   * the other modules (device secrets, Wi-Fi passwords, session platform ids), the same set
   * `npm run keys:reseal` reseals. A version is droppable only when nothing is sealed under it
   * and no live server seals new values under it (one with an older VAULT_ACTIVE_KEY would),
   * and it is not listed after the active version: VAULT_KEYS's last version is the active one
   * unless VAULT_ACTIVE_KEY pins an older one, which is a rotation's first step (the new version
   * added everywhere before any server seals under it), so a later one is about to be used.
   */
  async keyUsage(): Promise<KeyUsage> {
    const byOwner: Record<string, Record<string, number>> = {
      'vault data keys': await this.files.countLiveByKeyVersion(),
      ...(await this.keyring.sealedValuesByOwner()),
    };
    const inUse: Record<string, number> = {};
    for (const counts of Object.values(byOwner)) {
      for (const [version, n] of Object.entries(counts)) {
        if (n > 0) inUse[version] = (inUse[version] ?? 0) + n;
      }
    }
    const active = this.keyring.activeVersion;
    const held = this.keyring.versions();
    const sealing = new Set([active, ...(await this.keyHolders.liveActiveVersions())]);
    const pending = new Set(held.slice(held.indexOf(active) + 1));
    const missing = Object.keys(inUse)
      .filter((v) => !held.includes(v))
      .sort();
    const holders = await this.keyHolders.holdersOf(missing);
    return {
      activeVersion: active,
      inUse: Object.fromEntries(Object.entries(inUse).sort(([a], [b]) => a.localeCompare(b))),
      byOwner,
      droppable: held.filter((v) => !sealing.has(v) && !pending.has(v) && !inUse[v]),
      missing,
      unheld: missing.filter((v) => !holders.get(v)),
    };
  }

  private async findLive(
    fileId: string,
    attempt: { fileId: string; actor: VaultActor; purpose: string; action: VaultAction },
  ): Promise<VaultFile> {
    const file = isObjectId(fileId) ? await this.files.findById(fileId) : undefined;
    if (!file) {
      await this.audit.record({ ...attempt, result: 'failed', reason: 'file_not_found' });
      throw new VaultError('file_not_found', 'No vault file has this id');
    }
    if (!file.wrappedKey) {
      await this.audit.record({ ...attempt, result: 'failed', reason: 'file_deleted' });
      throw gone();
    }
    return file;
  }

  /** The file decrypted again as it streams (a file the reads' hold could not take). */
  private async *serve(
    file: VaultFile,
    blob: OpenBlob,
    dataKey: Buffer,
    attempt: { fileId: string; actor: VaultActor; purpose: string; action: VaultAction },
  ): AsyncGenerator<Buffer> {
    const size = file.size;
    let sent = 0;
    // read at the first chunk asked for (a body closed before that is cleaned up by the caller)
    let chunks: AsyncGenerator<Buffer> | undefined;
    try {
      chunks = decryptBlob(blob.read(), dataKey, file.id, summaryOf(file));
      for (;;) {
        const next = await chunks.next();
        if (next.done) break;
        sent += next.value.length;
        // never more than the authenticated, announced length (the blob could change between passes)
        if (sent > size) throw new BlobIntegrityError('longer_than_recorded', -1);
        yield next.value;
      }
    } catch (error) {
      // the blob changed in place between the passes: named as the first pass names it
      const reason = readFaultOf(error);
      this.logger.warn(
        { fileId: attempt.fileId, reason, err: error },
        'Vault read aborted mid-stream',
      );
      await this.audit.recordQuietly({ ...attempt, result: 'failed', reason });
      throw error;
    } finally {
      dataKey.fill(0);
      await chunks?.return(undefined);
      await blob.close().catch(() => undefined);
    }
  }
}

/** Why a read of a blob is refused (its audit reason). */
type ReadFault =
  | 'tampered'
  | 'blob_unreadable'
  | 'blob_shorter_than_recorded'
  | 'size_mismatch'
  | 'digest_mismatch';

/**
 * The audit reason of a failed decrypt of a blob, the check's pass or the streaming one: the
 * same failure is named the same in both (a blob cut short between them too).
 */
function readFaultOf(error: unknown): ReadFault {
  if (!(error instanceof BlobIntegrityError)) return 'blob_unreadable';
  // the blob ends short of the recorded size (cut inside its header, or its final record
  // fails and its length gives less): cut short, or the record's size raised
  if (error.failure === 'shorter_than_recorded' || error.failure === 'truncated')
    return 'blob_shorter_than_recorded';
  // version 2: the final chunk failed and the blob's length gives more than the recorded size;
  // the streaming pass: more plaintext than the checked size
  if (error.failure === 'size_mismatch' || error.failure === 'longer_than_recorded')
    return 'size_mismatch';
  // a version 2 blob and metadata with no size or digest to bind
  return error.failure === 'unbound_digest' ? 'digest_mismatch' : 'tampered';
}

/**
 * `source`, with `cleanup` run however its reader ends it: at its end, on a failure, or by
 * `return()` / `throw()` even before the first `next()`, when a generator's `finally` does not
 * run (`Readable.from` does that when the response is destroyed early).
 */
function withCleanup<T>(source: AsyncGenerator<T>, cleanup: () => void): AsyncIterableIterator<T> {
  const step = async (result: Promise<IteratorResult<T>>) => {
    try {
      const next = await result;
      if (next.done) cleanup();
      return next;
    } catch (error) {
      cleanup();
      throw error;
    }
  };
  const ended = async (result: Promise<IteratorResult<T>>) => {
    try {
      return await result;
    } finally {
      cleanup();
    }
  };
  return {
    next: () => step(source.next()),
    return: (value?: unknown) => ended(source.return(value)),
    throw: (error?: unknown) => ended(source.throw(error)),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * Counts plaintext as it streams by, stopping at the size limit; the size and SHA-256 published
 * are the sealer's (of the bytes it sealed, bound into a version 2 blob's final chunk).
 */
class PlaintextMeter {
  bytes = 0;
  private sealed?: PlaintextSummary;

  /** `release`: the pieces are the meter's to free once sealed (`VaultService.store`). */
  constructor(
    private readonly limit: number,
    private readonly release = false,
  ) {}

  /**
   * The blob's bytes for `source`, measured and sealed as each piece arrives (one step per
   * piece, no stream between): the header, then the records each piece completes, then the
   * final one. With `release`, a piece is freed once the sealer took all of its bytes into
   * records (hashed and encrypted: the cipher copied them), the last ones once the final
   * record is sealed.
   */
  async *seal(
    source: AsyncIterable<Buffer | Uint8Array | string>,
    sealer: BlobSealer,
  ): AsyncGenerator<Buffer | Buffer[]> {
    yield sealer.header;
    // pieces pushed and not yet wholly sealed, with the byte count at each one's end
    const unsealed: Buffer[] = [];
    const ends: number[] = [];
    for await (const piece of source) {
      const buffer =
        typeof piece === 'string'
          ? Buffer.from(piece, 'utf8')
          : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
      this.bytes += buffer.length;
      if (this.bytes > this.limit) throw tooLarge(this.limit);
      const records: Buffer[] = [];
      sealer.push(buffer, records);
      if (this.release) {
        unsealed.push(buffer);
        ends.push(this.bytes);
        let done = 0;
        while (done < ends.length && ends[done] <= sealer.sealedBytes) done++;
        if (done > 0) {
          releaseBuffers(unsealed.splice(0, done));
          ends.splice(0, done);
        }
      }
      if (records.length > 0) yield records;
    }
    const last: Buffer[] = [];
    this.sealed = sealer.end(last);
    if (this.release) releaseBuffers(unsealed);
    yield last;
  }

  /** The plaintext's SHA-256 (hex), once sealed. */
  digest(): string {
    if (!this.sealed || this.sealed.size !== this.bytes) throw new Error('not sealed');
    return this.sealed.sha256;
  }
}

/**
 * The size and SHA-256 a file's metadata publishes (a version 2 blob's final chunk binds them),
 * and the digest of the rest of the metadata a version 3 blob's binds.
 */
function summaryOf(file: VaultFile): ExpectedContent {
  return { size: file.size, sha256: file.sha256, metadata: metadataDigest(file) };
}

export function dataKeyContext(fileId: string): string {
  return `vault-dek:${fileId}`;
}

/** `image/*` (but not SVG, which is a document) or application/octet-stream, lower-cased, without parameters. */
export function normalizeContentType(raw: string | undefined): string | undefined {
  const type = (raw ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/octet-stream') return type;
  if (/^image\/[a-z0-9][a-z0-9.+-]{0,63}$/.test(type) && type !== 'image/svg+xml') return type;
  return undefined;
}

function validDate(at: Date): boolean {
  return at instanceof Date && Number.isFinite(at.getTime());
}

export function validPurpose(purpose: string | undefined): purpose is string {
  return typeof purpose === 'string' && PURPOSE.test(purpose.trim());
}

function auditablePurpose(purpose: string | undefined): string {
  return validPurpose(purpose) ? purpose.trim() : '';
}

function auditableId(fileId: string): string {
  return AUDITABLE_ID.test(fileId) ? fileId : '(invalid)';
}

function missingPurpose(): VaultError {
  return new VaultError(
    'missing_purpose',
    'Header x-access-purpose is required: 3-200 printable characters saying why the file is read',
  );
}

function tooLarge(limit: number): VaultError {
  return new VaultError('payload_too_large', `Vault files are limited to ${limit} bytes`);
}

function gone(): VaultError {
  return new VaultError('file_deleted', 'This vault file was deleted and cannot be recovered');
}

function integrityFailure(): VaultError {
  return new VaultError(
    'file_integrity_failed',
    'The stored file failed its integrity check and will not be served',
  );
}

function storeFailure(error: unknown): VaultError | CommonError {
  if (error instanceof VaultError || error instanceof CommonError) return error;
  const storage = storageErrorOf(error);
  if (storage) return storage;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ECONNRESET' || (error as Error).message === 'aborted') {
    return new VaultError('request_aborted', 'The upload was interrupted');
  }
  return new VaultError('store_failed', 'The file could not be stored');
}
