/**
 * `npm run keys:retag`: after a store-MAC rotation (`keys:rotate mac`, every replica restarted
 * on the new STORE_MAC_KEY), tags the fraud events and their reviews, and the worker devices'
 * block states and events, that verify under a retired key again under the current one, so the retired key can be dropped without the rows reading
 * `tampered`. Each event is checked with its review history exactly as a read checks it; a row
 * that verifies under no key held here is never re-tagged (that would launder a row changed in
 * the database): its id is listed and the command exits 2 at the end. Reviews are tagged again
 * in history order, each chained to the new tag of the one before. Paged by id (a thousand
 * events a read), each event written with a compare-and-set on its tags as read, so it runs
 * beside the servers: a review they record meanwhile makes that event's write miss, and the
 * event is read again (a few times; one still changing is left for a next run, exit 3).
 * Idempotent: rows already under the current key are left. A leaked key must vouch for
 * nothing: `--except <kid>` (repeatable) names a held key whose tags are not trusted, and an
 * event with a row that verifies only under it is never re-tagged: listed as suspect, exit 5;
 * so is a worker device's block state or event that verifies only under it (the device's
 * other rows are re-tagged). Without it, a held key vouches for whatever verifies under it, a row forged with it included.
 *
 * It refuses to start (exit 4, nothing written) while a live replica tags under another
 * store-MAC key than this one (the record StoreMacReplicas keeps: each server's key id, at boot
 * and every STORE_MAC_HEARTBEAT_MS; live for 3 of its heartbeats): that replica would keep
 * writing rows under the old key, which read tampered once it is dropped. `--force` runs anyway.
 *
 * Then it reports, for each key held besides the current one, what it can see still tagged
 * under it: fraud rows it could not re-tag, ledger links and vault audit records past their
 * last checkpoint (the next seal checks their tags and covers them), and the timesheet read
 * model (tagged under it since its last reset: the first start without it rebuilds the read
 * model from the ledger); and whether the oldest retired key can be removed from
 * STORE_MAC_RETIRED_KEYS now. Run it with the server's environment (DATA_DIR or DATABASE_URL,
 * STORE_MAC_KEY, STORE_MAC_RETIRED_KEYS).
 */
import { INestApplication } from '@nestjs/common';
import { WorkerDeviceService } from '@app/device-trust';
import { KioskRegistryService } from '@app/kiosk-registry';
import { FraudService } from '@app/fraud';
import { LedgerService } from '@app/offline-sync';
import { TimesheetProjector } from '@app/timesheets';
import { HeldStoreMacKey, STORE_MAC_LIVE_BEATS, StoreMac, StoreMacReplicas } from '@app/tlog';
import { VaultAuditService } from '@app/vault';
import { WorkforceService } from '@app/workforce';
import { runAppJob } from './app-job';
import { q } from './quote';

/** Events read (and re-tagged) a page at a time. */
const PAGE = 1000;
/** Tampered ids listed at most (the count is always whole). */
const LISTED = 1000;

/**
 * Exit codes: rows no held key vouches for; rows that kept changing (run again); refused, a
 * live replica tags under another key (nothing written); rows that verify only under an
 * excepted key (`--except`); a bad argument. Of several, the first in this order: tampered,
 * suspect, changed.
 */
export const RETAG_TAMPERED = 2;
export const RETAG_CHANGED = 3;
export const RETAG_REPLICAS_ON_OTHER_KEY = 4;
export const RETAG_SUSPECT = 5;
export const RETAG_USAGE = 64;

const USAGE = 'usage: keys:retag [--except <kid>]... [--force]';

/** The command line: `--except <kid>` (or `--except=<kid>`, repeatable) and `--force`. */
export function parseRetagArgs(args: string[]): { except: string[]; force: boolean } {
  const except: string[] = [];
  let force = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--force') force = true;
    else if (arg === '--except' || arg.startsWith('--except=')) {
      const kid = arg === '--except' ? args[++i] : arg.slice('--except='.length);
      if (!kid || kid.startsWith('--')) throw new UsageError('--except needs a key id (kid)');
      except.push(kid);
    } else throw new UsageError(`unknown argument ${q(arg)}`);
  }
  return { except: [...new Set(except)], force };
}

class UsageError extends Error {}

interface FraudTally {
  read: number;
  retagged: number;
  current: number;
  /** Events re-tagged from each key id. */
  retaggedFrom: Map<string, number>;
  /** Events left under each key id because they kept changing. */
  changedFrom: Map<string, number>;
  changed: string[];
  changedCount: number;
  /** Events gone between a page's read of ids and of rows (deleted meanwhile). */
  deleted: number;
  tampered: string[];
  tamperedCount: number;
  /** Events with a row that verifies only under an excepted key. */
  suspect: string[];
  suspectCount: number;
  suspectFrom: Map<string, number>;
}

const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

async function retagFraud(fraud: FraudService, except: string[]): Promise<FraudTally> {
  const tally: FraudTally = {
    read: 0,
    retagged: 0,
    current: 0,
    retaggedFrom: new Map(),
    changedFrom: new Map(),
    changed: [],
    changedCount: 0,
    deleted: 0,
    tampered: [],
    tamperedCount: 0,
    suspect: [],
    suspectCount: 0,
    suspectFrom: new Map(),
  };
  for (let after = ''; ;) {
    const page = await fraud.retagPage(after, PAGE, except);
    for (const o of page) {
      tally.read++;
      if (o.result === 'retagged') {
        tally.retagged++;
        for (const kid of o.from) add(tally.retaggedFrom, kid);
      } else if (o.result === 'current') tally.current++;
      else if (o.result === 'deleted') tally.deleted++;
      else if (o.result === 'tampered') {
        tally.tamperedCount++;
        if (tally.tampered.length < LISTED) tally.tampered.push(o.eventId);
      } else if (o.result === 'suspect') {
        tally.suspectCount++;
        if (tally.suspect.length < LISTED) tally.suspect.push(o.eventId);
        for (const kid of o.from) add(tally.suspectFrom, kid);
      } else {
        tally.changedCount++;
        if (tally.changed.length < LISTED) tally.changed.push(o.eventId);
        for (const kid of o.from) add(tally.changedFrom, kid);
      }
    }
    // a page has an outcome per id read (`deleted` ones too): short only at the end
    if (page.length < PAGE) return tally;
    after = page[page.length - 1].eventId;
  }
}

interface DeviceTally {
  read: number;
  retagged: number;
  retaggedFrom: Map<string, number>;
  changedFrom: Map<string, number>;
  changed: string[];
  /** Devices with a block state or an event no held key vouches for (never re-tagged). */
  tampered: string[];
  tamperedCount: number;
  /** Rows that verify only under an excepted key (never re-tagged), each `device: what`. */
  suspect: string[];
  suspectCount: number;
  /** Suspect rows under each excepted key id. */
  suspectFrom: Map<string, number>;
}

/** Worker devices' block states and events (WorkerDeviceSeal) under a retired key, re-tagged. */
async function retagDevices(devices: WorkerDeviceService, except: string[]): Promise<DeviceTally> {
  const tally: DeviceTally = {
    read: 0,
    retagged: 0,
    retaggedFrom: new Map(),
    changedFrom: new Map(),
    changed: [],
    tampered: [],
    tamperedCount: 0,
    suspect: [],
    suspectCount: 0,
    suspectFrom: new Map(),
  };
  for (let after = ''; ;) {
    const page = await devices.retagPage(after, PAGE, except);
    for (const o of page) {
      tally.read++;
      for (const row of o.suspect) {
        tally.suspectCount++;
        add(tally.suspectFrom, row.kid);
        const what =
          row.row === 'state' ? 'its block state' : `its ${q(row.action)} event ${q(row.eventId)}`;
        if (tally.suspect.length < LISTED) tally.suspect.push(`${q(o.deviceId)}: ${what}`);
      }
      if (o.tampered > 0) {
        tally.tamperedCount++;
        if (tally.tampered.length < LISTED) tally.tampered.push(o.deviceId);
      }
      if (o.result === 'retagged') {
        tally.retagged++;
        for (const kid of o.from) add(tally.retaggedFrom, kid);
      } else if (o.result === 'changed') {
        if (tally.changed.length < LISTED) tally.changed.push(o.deviceId);
        for (const kid of o.from) add(tally.changedFrom, kid);
      }
    }
    if (page.length < PAGE) return tally;
    after = page[page.length - 1].deviceId;
  }
}

/** Unsealed ledger links by key id, and how many sites hold them. */
async function ledgerKids(app: INestApplication): Promise<Map<string | null, [number, number]>> {
  const ledger = app.get(LedgerService, { strict: false });
  const workforce = app.get(WorkforceService, { strict: false });
  const found = new Map<string | null, [number, number]>();
  for (let after = ''; ;) {
    const ids = await workforce.listSiteIds(after, 100);
    for (const siteId of ids) {
      for (const [kid, n] of await ledger.unsealedTagKids(siteId)) {
        const [links, sites] = found.get(kid) ?? [0, 0];
        found.set(kid, [links + n, sites + 1]);
      }
    }
    if (ids.length < 100) return found;
    after = ids[ids.length - 1];
  }
}

function describeKey(k: HeldStoreMacKey): string {
  if (k.derived) return `${k.kid} (derived from TLOG_SIGNING_KEY, accepted by STORE_MAC_LEGACY=1)`;
  if (k.stagedAt) return `${k.kid} (staged ${k.stagedAt.toISOString()})`;
  return `${k.kid}${k.retiredAt ? ` (retired ${k.retiredAt.toISOString()})` : ''}`;
}

/**
 * The live replicas that tag under another key than `kid`: printed, and true (refuse) unless
 * `force`. A replica that crashed keeps its row until 3 of its heartbeats have passed.
 */
async function refuseReplicasOnOtherKeys(
  app: INestApplication,
  kid: string,
  force: boolean,
  out: (line: string) => void,
): Promise<boolean> {
  const replicas = app.get(StoreMacReplicas, { strict: false });
  const now = new Date();
  const all = (await replicas.list(now)).filter((r) => !r.self);
  const live = all.filter((r) => r.live);
  const behind = live.filter((r) => r.kid !== kid);
  out(
    `replicas seen (live: a heartbeat within ${STORE_MAC_LIVE_BEATS} of its STORE_MAC_HEARTBEAT_MS): ${live.length} live, ${live.length - behind.length} on ${kid}${all.length > live.length ? `, ${all.length - live.length} gone quiet (not counted)` : ''}`,
  );
  if (behind.length === 0) return false;
  for (const r of behind) {
    const until = new Date(r.seenAt.getTime() + STORE_MAC_LIVE_BEATS * r.heartbeatMs);
    out(
      `  ${q(r.replicaId)} on host ${q(r.host)} tags under ${r.kid}, last seen ${r.seenAt.toISOString()} (counted live until ${until.toISOString()} unless it beats again)`,
    );
  }
  if (force) {
    out(
      `--force: going on although ${behind.length} live replica(s) tag under another key (the rows they write stay under it)`,
    );
    return false;
  }
  out(
    `refused: ${behind.length} live replica(s) still tag under another store-MAC key than ${kid}; nothing written. Restart each with the current STORE_MAC_KEY and run keys:retag again (a replica that crashed counts until the time shown; --force runs anyway)`,
  );
  process.exitCode = RETAG_REPLICAS_ON_OTHER_KEY;
  return true;
}

export function keysRetag(args: string[] = []): void {
  let options: { except: string[]; force: boolean };
  try {
    options = parseRetagArgs(args);
  } catch (error) {
    process.stderr.write(`keys:retag: ${(error as Error).message}\n${USAGE}\n`);
    process.exit(RETAG_USAGE);
  }
  runAppJob('keys:retag failed', async (app) => {
    const mac = app.get(StoreMac, { strict: false });
    const others = mac.heldOthers();
    const out = (line: string) => process.stdout.write(`${line}\n`);
    const usage = (message: string) => {
      process.stderr.write(`keys:retag: ${message}\n${USAGE}\n`);
      process.exitCode = RETAG_USAGE;
    };
    const { except, force } = options;
    if (except.includes(mac.kid))
      return usage(
        `--except ${except.find((k) => k === mac.kid)}: that is the current STORE_MAC_KEY (rotate it first: keys:rotate mac)`,
      );
    const unheld = except.filter((kid) => !others.some((k) => k.kid === kid));
    if (unheld.length > 0)
      return usage(
        `--except ${unheld.join(', ')}: no such key held (held besides the current one: ${others.map((k) => k.kid).join(', ') || 'none'})`,
      );
    out(
      `keys:retag: current store-MAC key ${mac.kid}; other keys held: ${others.map(describeKey).join(', ') || '(none)'}${except.length ? `; not trusted (--except): ${except.join(', ')}` : ''}`,
    );
    out(
      '  run it once every replica runs with this STORE_MAC_KEY (a replica still tagging under an older key writes rows under it, which read tampered once it is dropped), and name a leaked key with --except (otherwise a row forged with it would be re-tagged)',
    );
    if (await refuseReplicasOnOtherKeys(app, mac.kid, force, out)) return;

    const fraud = await retagFraud(app.get(FraudService, { strict: false }), except);
    const from = [...fraud.retaggedFrom].map(([kid, n]) => `${n} from ${kid}`).join(', ');
    out(
      `fraud events: ${fraud.read} read, ${fraud.retagged} re-tagged under ${mac.kid}${from ? ` (${from})` : ''}, ${fraud.current} already under it, ${fraud.changedCount} changed by a server on every try, ${fraud.tamperedCount} tampered${except.length ? `, ${fraud.suspectCount} suspect` : ''}${fraud.deleted ? `, ${fraud.deleted} deleted meanwhile` : ''}`,
    );
    if (fraud.changedCount > 0) {
      out(
        `changed while this command ran (left as they are; run it again): ${fraud.changed.map(q).join(', ')}`,
      );
    }
    if (fraud.tamperedCount > 0) {
      out(
        `tampered: ${fraud.tamperedCount} fraud events verify under no key held here (changed outside the server, or tagged under a key no longer held); never re-tagged: restore them from a backup`,
      );
      for (const id of fraud.tampered) out(`  ${q(id)}`);
      if (fraud.tamperedCount > fraud.tampered.length)
        out(`  … and ${fraud.tamperedCount - fraud.tampered.length} more`);
    }
    if (fraud.suspectCount > 0) {
      const by = [...fraud.suspectFrom].map(([kid, n]) => `${n} under ${kid}`).join(', ');
      out(
        `suspect: ${fraud.suspectCount} fraud events have a row that verifies only under a key given to --except (${by}): anyone holding that key could have made them; never re-tagged, they read tampered once the key is dropped: check them against a backup from before the leak, or review them`,
      );
      for (const id of fraud.suspect) out(`  ${q(id)}`);
      if (fraud.suspectCount > fraud.suspect.length)
        out(`  … and ${fraud.suspectCount - fraud.suspect.length} more`);
    }

    const devices = await retagDevices(app.get(WorkerDeviceService, { strict: false }), except);
    const devicesFrom = [...devices.retaggedFrom].map(([kid, n]) => `${n} from ${kid}`).join(', ');
    out(
      `worker devices (block state and events): ${devices.read} read, ${devices.retagged} re-tagged under ${mac.kid}${devicesFrom ? ` (${devicesFrom})` : ''}, ${devices.changed.length} changed by a server on every try, ${devices.tamperedCount} with tampered rows${except.length ? `, ${devices.suspectCount} suspect rows` : ''}`,
    );
    if (devices.changed.length > 0) {
      out(
        `worker devices changed while this command ran (left as they are; run it again): ${devices.changed.map(q).join(', ')}`,
      );
    }
    if (devices.tamperedCount > 0) {
      out(
        `tampered: ${devices.tamperedCount} worker devices have a block state or events no key held here vouches for; never re-tagged (a tampered state reads as blocked: an admin's block or unblock re-tags it)`,
      );
      for (const id of devices.tampered) out(`  ${q(id)}`);
    }
    if (devices.suspectCount > 0) {
      const by = [...devices.suspectFrom].map(([kid, n]) => `${n} under ${kid}`).join(', ');
      out(
        `suspect: ${devices.suspectCount} worker-device rows (block states and events) verify only under a key given to --except (${by}): anyone holding that key could have made them; never re-tagged, they read tampered once the key is dropped (a suspect block state then reads blocked: an admin's block or unblock re-tags it; a suspect unblock no longer counts): check them against a backup from before the leak`,
      );
      for (const row of devices.suspect) out(`  ${row}`);
      if (devices.suspectCount > devices.suspect.length)
        out(`  … and ${devices.suspectCount - devices.suspect.length} more`);
    }

    const kiosks = await retagKiosks(app.get(KioskRegistryService, { strict: false }), except, out);

    // what else is still tagged under a key other than the current one
    const ledger = await ledgerKids(app);
    const vault = await app.get(VaultAuditService, { strict: false }).unsealedTagKids();
    const timesheets = (await app.get(TimesheetProjector, { strict: false }).sealKids()) ?? [];
    const blockers = new Map<string, string[]>();
    for (const key of others) {
      const notes: string[] = [];
      const block: string[] = [];
      const changed = fraud.changedFrom.get(key.kid) ?? 0;
      if (changed > 0) {
        notes.push(`${changed} fraud events changed while this ran: run keys:retag again`);
        block.push('fraud events');
      }
      const suspect = fraud.suspectFrom.get(key.kid) ?? 0;
      if (suspect > 0) {
        notes.push(
          `${suspect} suspect fraud events left under it (--except): they read tampered once it is removed`,
        );
      }
      const devicesSuspect = devices.suspectFrom.get(key.kid) ?? 0;
      if (devicesSuspect > 0) {
        notes.push(
          `${devicesSuspect} suspect worker-device rows left under it (--except): they read tampered once it is removed (a suspect block state reads blocked)`,
        );
      }
      const devicesChanged = devices.changedFrom.get(key.kid) ?? 0;
      if (devicesChanged > 0) {
        notes.push(`${devicesChanged} worker devices changed while this ran: run keys:retag again`);
        block.push('worker devices');
      }
      const [links, sites] = ledger.get(key.kid) ?? [0, 0];
      if (links > 0) {
        notes.push(
          `${links} ledger links past their site's last checkpoint (${sites} sites): the next append of each site seals them (their tags checked under this key while it is held), then the checkpoint vouches for them`,
        );
        block.push('unsealed ledger links');
      }
      const records = vault.get(key.kid) ?? 0;
      if (records > 0) {
        notes.push(
          `${records} vault audit records past the last checkpoint: the next audited vault access seals them (their tags checked under this key while it is held)`,
        );
        block.push('unsealed vault audit records');
      }
      if (timesheets.includes(key.kid)) {
        notes.push(
          'the timesheet read model may hold rows tagged under it (it records every key it was started under since its last reset): the first start without this key clears it and re-reads every site from the ledger (slow for a big site, as npm run timesheets:rebuild)',
        );
      }
      out(`${describeKey(key)}:${notes.length === 0 ? ' tags nothing this command can see' : ''}`);
      for (const note of notes) out(`  ${note}`);
      blockers.set(key.kid, block);
    }

    const oldest = others.find((k) => !k.stagedAt && !k.derived);
    if (!oldest) out('no retired key in STORE_MAC_RETIRED_KEYS: nothing to remove');
    else {
      const block = blockers.get(oldest.kid)!;
      if (block.length > 0) {
        out(
          `the oldest retired key ${oldest.kid} cannot be removed yet: ${block.join(', ')} still tagged under it`,
        );
      } else {
        out(
          `the oldest retired key ${oldest.kid} can be removed from STORE_MAC_RETIRED_KEYS (restart every replica after)${timesheets.includes(oldest.kid) ? '; the first start without it rebuilds the timesheet read model' : ''}${fraud.tamperedCount > 0 ? '; the tampered fraud events above stay tampered whatever is held' : ''}${(fraud.suspectFrom.get(oldest.kid) ?? 0) > 0 ? '; the suspect fraud events above then read tampered' : ''}${(devices.suspectFrom.get(oldest.kid) ?? 0) > 0 ? '; the suspect worker-device rows above then read tampered' : ''}`,
        );
      }
    }
    if (fraud.tamperedCount > 0 || devices.tamperedCount > 0 || kiosks.tampered > 0)
      process.exitCode = RETAG_TAMPERED;
    else if (fraud.suspectCount > 0 || devices.suspectCount > 0 || kiosks.suspect > 0)
      process.exitCode = RETAG_SUSPECT;
    else if (fraud.changedCount > 0 || devices.changed.length > 0 || kiosks.changed > 0)
      process.exitCode = RETAG_CHANGED;
  });
}

/**
 * Kiosks' tags (KioskSeal) under a retired key, re-tagged; tampered, suspect (`--except`) and
 * changed ones listed. Self-contained: its counts go into the exit code only.
 */
async function retagKiosks(
  kiosks: KioskRegistryService,
  except: string[],
  out: (line: string) => void,
): Promise<{ tampered: number; suspect: number; changed: number }> {
  const counts = { read: 0, retagged: 0, current: 0, tampered: 0, suspect: 0, changed: 0 };
  const listed: string[] = [];
  for (let after = ''; ;) {
    const page = await kiosks.retagPage(after, PAGE, except);
    for (const o of page) {
      counts.read++;
      counts[o.result]++;
      if (o.result !== 'retagged' && o.result !== 'current' && listed.length < LISTED)
        listed.push(`  ${q(o.deviceId)}: ${o.result}${o.from ? ` (under ${o.from})` : ''}`);
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1].deviceId;
  }
  out(
    `kiosks (key and status): ${counts.read} read, ${counts.retagged} re-tagged, ${counts.current} already under the current key, ${counts.changed} changed by a server meanwhile, ${counts.tampered} tampered${except.length ? `, ${counts.suspect} suspect` : ''}`,
  );
  for (const line of listed) out(line);
  return counts;
}
