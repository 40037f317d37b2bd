import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Counter, MetricsRegistry } from '@app/common';
import { SealedValueStore } from './sealed-values';
import { vaultConfig, VaultSettings } from '../vault.config';
import { VaultError } from '../vault.errors';

/** What re-sealing one module's values did. */
export interface ResealReport {
  owner: string;
  resealed: number;
  /** Keys whose value could not be opened (unknown key version or corrupt). */
  failed: string[];
}

const RESEAL_PAGE = 200;
/** How long a master key version found missing keeps /health degraded after it was last asked for. */
const MISSING_RECENT_MS = 15 * 60 * 1000;

const SEALED_PREFIX = 'sealed1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * The one owner of master keys in the system: a versioned keyring from config (`VAULT_KEYS`,
 * `VAULT_ACTIVE_KEY`), standing in for a KMS.
 *
 * Small secrets of other modules (Wi-Fi passwords, device secrets) are sealed here as one
 * string: `sealed1.<keyVersion>.<iv>.<ciphertext>.<tag>` (base64url parts), AES-256-GCM
 * under the master key of that version, with associated data binding the format, the key
 * version and a caller-chosen context (e.g. `wifi:<challenge id>`), so a sealed value moved to
 * another record does not open.
 */
@Injectable()
export class KeyringService {
  private readonly logger = new Logger(KeyringService.name);
  private readonly keys: Map<string, Buffer>;
  readonly activeVersion: string;
  /** The modules' stores of sealed values, by owner (counted by GET /api/v5/vault/keys). */
  private readonly holders = new Map<string, Pick<SealedValueStore, 'countByVersion'>>();
  /** Key versions asked for that VAULT_KEYS does not hold, with when they were first asked. */
  private readonly missing = new Map<string, { since: Date; last: Date }>();
  private readonly unavailable: Counter<'version'>;
  /** Told once of each version found missing (KeyHoldersService: whether a live server holds it). */
  private readonly missingListeners: Array<(version: string) => void> = [];

  constructor(
    @Inject(vaultConfig.KEY) vault: VaultSettings,
    @Optional() metrics?: MetricsRegistry,
  ) {
    this.keys = vault.keys;
    this.activeVersion = vault.activeKey;
    this.unavailable = new Counter({
      name: 'mdai_vault_key_unavailable_total',
      help: 'Sealed values that could not be opened because VAULT_KEYS does not hold their master key version (restart with the new VAULT_KEYS)',
      labelNames: ['version'],
      registers: metrics ? [metrics] : [],
    });
  }

  versions(): string[] {
    return [...this.keys.keys()];
  }

  /**
   * A module whose records keep values sealed here names its store, so the key usage counts
   * them (an operator must never drop a version some module still seals under).
   */
  holdsSealedValues(owner: string, store: Pick<SealedValueStore, 'countByVersion'>): void {
    this.holders.set(owner, store);
  }

  /** Sealed values by owner and key version, for every module that holds some. */
  async sealedValuesByOwner(): Promise<Record<string, Record<string, number>>> {
    const counts: Record<string, Record<string, number>> = {};
    for (const [owner, store] of this.holders) counts[owner] = await store.countByVersion();
    return counts;
  }

  /** `listener` is told of each version the first time it is found missing (at most 16). */
  onMissingVersion(listener: (version: string) => void): void {
    this.missingListeners.push(listener);
  }

  /**
   * Key versions that values were found sealed under but this process lacks (another replica,
   * or a reseal, used a VAULT_KEYS this one was not restarted with), since when: for /health,
   * which degrades only for those another live server holds (KeyHoldersService.holdersOf).
   * Only versions asked for in the last MISSING_RECENT_MS count: a replica without the new key
   * is asked again by every sync, while one stray value under a long-dropped version does not
   * keep the replica unhealthy for good (the metric and the error log still show it).
   */
  missingVersions(now = new Date()): { version: string; since: Date }[] {
    return [...this.missing]
      .filter(([, seen]) => now.getTime() - seen.last.getTime() <= MISSING_RECENT_MS)
      .map(([version, seen]) => ({ version, since: seen.since }));
  }

  /**
   * The master key of a version, for envelope encryption inside the vault module only. A
   * version VAULT_KEYS does not hold is `key_unavailable` (503): the value is fine, this
   * process must be restarted with the VAULT_KEYS that holds it.
   */
  masterKey(version: string): Buffer {
    const key = this.keys.get(version);
    if (!key) {
      this.unavailable.inc({ version: version.slice(0, 32) });
      const seen = this.missing.get(version);
      if (seen) seen.last = new Date();
      else if (this.missing.size < 16) {
        this.missing.set(version, { since: new Date(), last: new Date() });
        this.logger.error(
          { keyVersion: version.slice(0, 32), held: this.versions() },
          'A value is sealed under a master key version VAULT_KEYS does not hold',
        );
        for (const listener of this.missingListeners) listener(version);
      }
      throw new VaultError(
        'key_unavailable',
        'This server does not hold the master key version the data is sealed under; it must be restarted with a VAULT_KEYS that holds it: the current VAULT_KEYS during a key rollout; on a store restored from a backup, the version dropped since the backup, added back (GET /api/v5/vault/keys lists it under missing)',
      );
    }
    return key;
  }

  seal(plaintext: string | Buffer, context: string): string {
    const version = this.activeVersion;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.masterKey(version), iv);
    cipher.setAAD(aad(version, context));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return [SEALED_PREFIX, version, b64(iv), b64(ciphertext), b64(cipher.getAuthTag())].join('.');
  }

  open(sealed: string, context: string): Buffer {
    const parsed = parseSealed(sealed);
    const decipher = createDecipheriv('aes-256-gcm', this.masterKey(parsed.version), parsed.iv);
    decipher.setAAD(aad(parsed.version, context));
    decipher.setAuthTag(parsed.tag);
    try {
      return Buffer.concat([decipher.update(parsed.ciphertext), decipher.final()]);
    } catch {
      throw new VaultError('sealed_value_corrupt', 'A sealed value failed authentication');
    }
  }

  openString(sealed: string, context: string): string {
    return this.open(sealed, context).toString('utf8');
  }

  /** The key version a sealed value was made with (for rotation). */
  versionOf(sealed: string): string {
    return parseSealed(sealed).version;
  }

  /**
   * Re-seals every value of `store` that is not under the active key, page by page; a value
   * changed meanwhile is left to its writer (who sealed it under the active key anyway).
   */
  async resealAll(
    owner: string,
    store: SealedValueStore,
    context: (key: string) => string,
  ): Promise<ResealReport> {
    const failed: string[] = [];
    let resealed = 0;
    let after = '';
    for (;;) {
      const page = await store.listSealedNotUnder(this.activeVersion, after, RESEAL_PAGE);
      for (const value of page) {
        try {
          const next = this.reseal(value.sealed, context(value.key));
          if (next && (await store.replaceSealed(value.key, value.sealed, next))) resealed++;
        } catch {
          failed.push(value.key);
        }
      }
      if (page.length < RESEAL_PAGE) break;
      after = page[page.length - 1].key;
    }
    return { owner, resealed, failed };
  }

  /** Re-seals under the active key when needed; returns undefined when already current. */
  reseal(sealed: string, context: string): string | undefined {
    if (this.versionOf(sealed) === this.activeVersion) return undefined;
    return this.seal(this.open(sealed, context), context);
  }
}

function aad(version: string, context: string): Buffer {
  return Buffer.from(`${SEALED_PREFIX}|${version}|${context}`, 'utf8');
}

function b64(buffer: Buffer): string {
  return buffer.toString('base64url');
}

function parseSealed(sealed: string): {
  version: string;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
} {
  const parts = sealed.split('.');
  if (parts.length !== 5 || parts[0] !== SEALED_PREFIX) {
    throw new VaultError('sealed_value_corrupt', 'A sealed value is malformed');
  }
  const result = {
    version: parts[1],
    iv: Buffer.from(parts[2], 'base64url'),
    ciphertext: Buffer.from(parts[3], 'base64url'),
    tag: Buffer.from(parts[4], 'base64url'),
  };
  if (result.iv.length !== IV_BYTES || result.tag.length !== TAG_BYTES) {
    throw new VaultError('sealed_value_corrupt', 'A sealed value is malformed');
  }
  return result;
}
