import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
} from '@nestjs/common';
import { HttpAdapterHost, ModuleRef } from '@nestjs/core';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { appConfig, AppSettings } from '@app/common';
import { WorkerDeviceService } from '@app/device-trust';
import { FraudService } from '@app/fraud';
import { KioskRegistryService } from '@app/kiosk-registry';
import { StoreMac } from '@app/tlog';
import { BACKUP_MANIFEST } from '../admin/backup';

/**
 * Devices, kiosks and fraud events read per page, and the most read at a start in all (the
 * counts then say "at least").
 */
const PAGE = 500;
const MAX_SCANNED = 20_000;
/** The start of the manifest read for its kids. */
const MANIFEST_HEAD_BYTES = 64 * 1024;

/** What a start found: rows that read tampered in a DATA_DIR restored from a backup whose keys it lacks. */
export interface UnheldStoreMacKeysFinding {
  /** The store-MAC key ids the restored backup's manifest names that this server does not hold. */
  kids: string[];
  /** Worker devices whose block state reads tampered (blocked). */
  devices: number;
  /** Kiosks that read tampered (blocked). */
  kiosks: number;
  /** Fraud events that read tampered (listed `tampered`, refused a review, not weighed). */
  fraudEvents: number;
  /** Whether the scan stopped at its bound (the counts are then lower bounds). */
  capped: boolean;
}

/**
 * A DATA_DIR restored from a backup (`backup --to`, then put in place: its backup-manifest.json
 * is there) whose `storeMacKids` name a store-MAC key this server does not hold: the rows of the
 * backup tagged under it (worker devices' block states and events, kiosks, fraud events) verify
 * under no held key and read tampered, so every such phone and kiosk is refused
 * (device_blocked). A tag names no key, so a row under a dropped key and a forged one look
 * alike; the manifest tells which keys the restored rows may be under, so the start says
 * which key to put back, and how many devices, kiosks and fraud events read tampered meanwhile
 * (an ALARM, and /health `devices.unheldStoreMacKids`: reported, not degraded, as the legacy
 * tagging's refusal). Nothing is unblocked: the rows stay refused until the key is back (tester
 * F2).
 *
 * Bounded: only when the manifest names a key not held (a start whose keys hold every kid the
 * manifest names reads the manifest's head and nothing else, however long the manifest stays in
 * DATA_DIR), MAX_SCANNED devices, kiosks and fraud events at most in all (in that order), in the
 * background once the server listens (review LOW 7: it delayed the start by up to 20,000 row
 * reads), yielding between pages; its failure is logged, never a crash. /health reports it once
 * counted. A MongoDB restore has no manifest: nothing is found there.
 */
@Injectable()
export class UnheldStoreMacKeys implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('StoreMac');
  private found?: UnheldStoreMacKeysFinding;
  private stopped = false;
  /** The background count (it never rejects): a closing app stops it and waits for its page. */
  private counting?: Promise<void>;

  constructor(
    @Inject(appConfig.KEY) private readonly app: AppSettings,
    private readonly modules: ModuleRef,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  /** What this start found (undefined: nothing reads tampered under a key the backup names). */
  finding(): UnheldStoreMacKeysFinding | undefined {
    return this.found && { ...this.found, kids: [...this.found.kids] };
  }

  /**
   * Synchronous on purpose: an awaited read here let a job's app (runAppJob) run the timers its
   * other bootstrap hooks set (the unsealed-tail sweep's first run) before the job stopped them.
   * The manifest is read once the server listens, with the count.
   */
  onApplicationBootstrap(): void {
    const mac = this.optional(StoreMac);
    if (!mac) return;
    this.afterListen(() => {
      this.counting = manifestKids(this.app.dataDir).then((all) => {
        const kids = all.filter((kid) => !mac.knows(kid));
        return kids.length === 0 || this.stopped ? undefined : this.countInBackground(kids);
      });
    });
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    await this.counting;
  }

  /** Runs `start` once the HTTP server listens (at once, on the next turn, without one). */
  private afterListen(start: () => void): void {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as
      { listening?: boolean; once(event: 'listening', listener: () => void): unknown } | undefined;
    if (server && !server.listening) server.once('listening', start);
    else setImmediate(start);
  }

  private async countInBackground(kids: string[]): Promise<void> {
    try {
      const found = await this.count(kids);
      if (this.stopped || found.devices + found.kiosks + found.fraudEvents === 0) return;
      this.found = found;
      this.logger.error(unheldMessage(found, 'ALARM: '));
    } catch (error) {
      if (this.stopped) return;
      this.logger.error(
        `ALARM: this DATA_DIR was restored from a backup whose rows may be tagged under store-MAC key(s) ${kids.join(', ')}, not held by this server; counting the rows that read tampered failed (${(error as Error).message}): put those keys back into STORE_MAC_RETIRED_KEYS and restart`,
      );
    }
  }

  private async count(kids: string[]): Promise<UnheldStoreMacKeysFinding> {
    const found: UnheldStoreMacKeysFinding = {
      kids,
      devices: 0,
      kiosks: 0,
      fraudEvents: 0,
      capped: false,
    };
    const scanned = { rows: 0 };
    const devices = this.optional(WorkerDeviceService);
    if (devices) {
      found.devices = await this.countTampered(
        (after?: string) => devices.list(PAGE, after),
        (d) => d.deviceId,
        (d) => d.blockIntegrity === 'tampered',
        scanned,
        found,
      );
    }
    const kiosks = this.optional(KioskRegistryService);
    if (kiosks) {
      found.kiosks = await this.countTampered(
        (after?: string) => kiosks.list(PAGE, after),
        (k) => k.deviceId,
        (k) => k.integrity === 'tampered',
        scanned,
        found,
      );
    }
    const fraud = this.optional(FraudService);
    if (fraud) {
      found.fraudEvents = await this.countTampered(
        (before?: { at: Date; id: string }) => fraud.unnotedPage(PAGE, before),
        (e) => ({ at: e.at, id: e.id }),
        (e) => e.integrity === 'tampered',
        scanned,
        found,
      );
    }
    return found;
  }

  /**
   * The rows of one store that read tampered, page after page (each after the last row's `key`),
   * until the store ends, the scan reaches MAX_SCANNED rows in all (`found.capped`) or the app
   * stops.
   */
  private async countTampered<T, K>(
    page: (after?: K) => Promise<T[]>,
    key: (row: T) => K,
    tampered: (row: T) => boolean,
    scanned: { rows: number },
    found: UnheldStoreMacKeysFinding,
  ): Promise<number> {
    let count = 0;
    for (let after: K | undefined; !found.capped && !this.stopped;) {
      // the requests first: a page read is synchronous on SQLite
      await yieldToIo();
      const rows = await page(after);
      count += rows.filter(tampered).length;
      scanned.rows += rows.length;
      if (rows.length < PAGE) break;
      after = key(rows[rows.length - 1]);
      found.capped = scanned.rows >= MAX_SCANNED;
    }
    return count;
  }

  private optional<T>(type: abstract new (...args: never[]) => T): T | undefined {
    try {
      return this.modules.get(type, { strict: false });
    } catch {
      return undefined;
    }
  }
}

/** The line a finding is logged and reported with (never a key: ids and counts only). */
export function unheldMessage(found: UnheldStoreMacKeysFinding, prefix = ''): string {
  const atLeast = found.capped ? 'at least ' : '';
  return (
    `${prefix}this DATA_DIR was restored from a backup (${BACKUP_MANIFEST}) whose rows may be tagged under store-MAC key(s) ${found.kids.join(', ')}, which this server does not hold: ` +
    `${atLeast}${found.devices} worker device(s) and ${atLeast}${found.kiosks} kiosk(s) read tampered and are refused (403 device_blocked), and ${atLeast}${found.fraudEvents} fraud event(s) read tampered (listed tampered, refused a review). ` +
    'A tag names no key, so a row under a key not held cannot be told from a forged one: the manifest says the restored rows may be under those keys (most likely a key dropped since the backup), but a forged row reads the same until they are back; put each of those keys back into STORE_MAC_RETIRED_KEYS ({"kid", "key", "retiredAt"} from the backup\'s secrets.json or your key store) and restart every replica, then run npm run keys:retag; nothing is unblocked until then'
  );
}

function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The `storeMacKids` of `<dataDir>/backup-manifest.json` (none without one, or unreadable). Read
 * from the file's start only: the backup writes them among its first members, and the manifest
 * of a backup of many blobs is large.
 */
async function manifestKids(dataDir: string): Promise<string[]> {
  let handle;
  try {
    handle = await open(join(dataDir, BACKUP_MANIFEST), 'r');
    const head = Buffer.alloc(MANIFEST_HEAD_BYTES);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    const list = /"storeMacKids":\s*(\[[^\]]*\])/.exec(head.toString('utf8', 0, bytesRead))?.[1];
    const kids = list === undefined ? [] : (JSON.parse(list) as unknown[]);
    return kids.filter((k): k is string => typeof k === 'string' && /^[0-9a-f]{16}$/.test(k));
  } catch {
    return [];
  } finally {
    await handle?.close();
  }
}
