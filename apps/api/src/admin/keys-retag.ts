/**
 * `npm run keys:retag`: after a store-MAC rotation (`keys:rotate mac`, every replica restarted
 * on the new STORE_MAC_KEY), tags the fraud events and their reviews, and the worker devices'
 * block states and events, the kiosks' key and status tags and their events, the workers' record tags, the sites' and thekedars' record tags (geofence, time zone; a thekedar's sites), and the payroll closes (the totals per worker a paid period was closed on) and the heads of their chains (per site), that verify under a retired key again under the current one, so the retired key can be dropped without the rows reading
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
 * other rows are re-tagged), a kiosk's, and the SQLite kiosk events' mark (with its number). Without it, a held key vouches for whatever verifies under it, a row forged with it included.
 *
 * It refuses to start (exit 4, nothing written) while a live replica tags under another
 * store-MAC key than this one (the replica registry: each server's key id, recorded at boot
 * and every STORE_MAC_HEARTBEAT_MS; live for 3 of its heartbeats): that replica would keep
 * writing rows under the old key, which read tampered once it is dropped. `--force` runs anyway.
 * It checks again once every row was re-tagged, right before its verdict: a replica started
 * under another key while it ran makes it exit 4 too (run it again once that replica is
 * restarted with the current STORE_MAC_KEY), and no retired key is then called removable.
 *
 * Then it reports, for each key held besides the current one, what it can see still tagged
 * under it: fraud rows it could not re-tag, ledger links and vault audit records past their
 * last checkpoint (the next seal checks their tags and covers them), and the timesheet read
 * model (tagged under it since its last reset: the first start without it rebuilds the read
 * model from the ledger); and whether the oldest retired key can be removed from
 * STORE_MAC_RETIRED_KEYS now. Run it with the server's environment (DATA_DIR or DATABASE_URL,
 * STORE_MAC_KEY, STORE_MAC_RETIRED_KEYS).
 */
import { INestApplication, Type } from '@nestjs/common';
import { WorkerDeviceRetagOutcome, WorkerDeviceService } from '@app/device-trust';
import { FraudService, RetagOutcome } from '@app/fraud';
import { KioskMarkRetag, KioskRegistryService } from '@app/kiosk-registry';
import { LedgerService } from '@app/offline-sync';
import { PayrollCloseService, TimesheetProjector } from '@app/timesheets';
import { HeldStoreMacKey, STORE_MAC_LIVE_BEATS, StoreMac, StoreMacReplicas } from '@app/tlog';
import { VaultAuditService } from '@app/vault';
import { SealedRecordKind, WorkforceService } from '@app/workforce';
import { runAppJob } from './app-job';
import { q } from './quote';
import {
  reportRetag,
  RetagKind,
  retagKeyNotes,
  RetagMark,
  retagRemovableNote,
  RetagTally,
  RetagTexts,
  walkRetag,
} from './retag-tally';

/**
 * Exit codes: rows no held key vouches for; rows that kept changing (run again); refused, a
 * live replica tags under another key (at the start: nothing written; or found again right
 * before the verdict, one that started under another key while the command ran); rows that
 * verify only under an excepted key (`--except`); a bad argument. Of several, the first in this
 * order: tampered, suspect, a replica under another key at the end, changed.
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

/** What the report says of fraud events (and their reviews). */
export const FRAUD_RETAG_TEXTS: RetagTexts = {
  label: 'fraud events',
  showCurrent: true,
  tamperedWord: 'tampered',
  suspectWord: 'suspect',
  changedHead: 'changed while this command ran',
  tampered: (n) =>
    `tampered: ${n} fraud events verify under no key held here (changed outside the server, or tagged under a key no longer held); never re-tagged: restore them from a backup`,
  suspect: (n, by) =>
    `suspect: ${n} fraud events have a row that verifies only under a key given to --except (${by}): anyone holding that key could have made them; never re-tagged, they read tampered once the key is dropped: check them against a backup from before the leak, or review them`,
  keyNotes: [
    {
      of: 'changed',
      note: (n) => `${n} fraud events changed while this ran: run keys:retag again`,
    },
    {
      of: 'suspect',
      note: (n) =>
        `${n} suspect fraud events left under it (--except): they read tampered once it is removed`,
    },
  ],
  blocks: 'fraud events',
  removableTampered: '; the tampered fraud events above stay tampered whatever is held',
  removableSuspect: '; the suspect fraud events above then read tampered',
};

/** What the report says of worker devices (their block states and events). */
export const DEVICE_RETAG_TEXTS: RetagTexts = {
  label: 'worker devices (block state and events)',
  showCurrent: false,
  tamperedWord: 'with tampered rows',
  suspectWord: 'suspect rows',
  changedHead: 'worker devices changed while this command ran',
  tampered: (n) =>
    `tampered: ${n} worker devices have a block state or events no key held here vouches for; never re-tagged (a tampered state reads as blocked: an admin's block or unblock re-tags it)`,
  suspect: (n, by) =>
    `suspect: ${n} worker-device rows (block states and events) verify only under a key given to --except (${by}): anyone holding that key could have made them; never re-tagged, they read tampered once the key is dropped (a suspect block state then reads blocked: an admin's block or unblock re-tags it; a suspect unblock no longer counts): check them against a backup from before the leak`,
  keyNotes: [
    {
      of: 'suspect',
      note: (n) =>
        `${n} suspect worker-device rows left under it (--except): they read tampered once it is removed (a suspect block state reads blocked)`,
    },
    {
      of: 'changed',
      note: (n) => `${n} worker devices changed while this ran: run keys:retag again`,
    },
  ],
  blocks: 'worker devices',
  removableSuspect: '; the suspect worker-device rows above then read tampered',
};

/**
 * The report's words of a kind whose rows each stand as one outcome (kiosks, workers, sites,
 * thekedars, payroll closes): `plural` names them, `couldSet` what a leaked key could have set,
 * `readsAs` what a tampered one reads as (`refused`).
 */
export function oneOutcomeRetagTexts(words: {
  plural: string;
  label: string;
  tampered: (count: number) => string;
  couldSet: string;
  readsAs: string;
}): RetagTexts {
  const { plural, couldSet, readsAs } = words;
  return {
    label: words.label,
    showCurrent: true,
    tamperedWord: 'tampered',
    suspectWord: 'suspect',
    changedHead: `${plural} changed while this command ran`,
    tampered: words.tampered,
    suspect: (n, by) =>
      `suspect: ${n} ${plural} verify only under a key given to --except (${by}): anyone holding that key could have set ${couldSet}; never re-tagged, they read tampered (${readsAs}) once the key is dropped: check them against a backup from before the leak`,
    keyNotes: [
      {
        of: 'suspect',
        note: (n) =>
          `${n} suspect ${plural} left under it (--except): they read tampered (${readsAs}) once it is removed`,
      },
      { of: 'changed', note: (n) => `${n} ${plural} changed while this ran: run keys:retag again` },
    ],
    blocks: plural,
    removableTampered: `; the tampered ${plural} above stay tampered whatever is held`,
    removableSuspect: `; the suspect ${plural} above then read tampered`,
  };
}

/** The tampered line of a record refused when tampered (`<kind>_tampered`): workers, sites, thekedars. */
function refusedRecordTampered(kind: 'worker' | SealedRecordKind): (n: number) => string {
  return (n) =>
    `tampered: ${n} ${kind}s have a record no key held here vouches for; never re-tagged (a tampered ${kind} is refused: ${kind}_tampered; restore it from a backup)`;
}

/** What the report says of kiosks (their state's tag over the public key and status, their events). */
export const KIOSK_RETAG_TEXTS = oneOutcomeRetagTexts({
  plural: 'kiosks',
  label: 'kiosks (key, status and events)',
  tampered: (n) =>
    `tampered: ${n} kiosks have a key or status no key held here vouches for; never re-tagged (a tampered kiosk reads as blocked: an admin's key rotation with its genuine key repairs it)`,
  couldSet: 'their key or status',
  readsAs: 'blocked',
});

/** What the report says of workers (their record's tag: name, phone, sites, status, trust). */
export const WORKER_RETAG_TEXTS = oneOutcomeRetagTexts({
  plural: 'workers',
  label: 'workers (name, phone, sites, status and trust)',
  tampered: refusedRecordTampered('worker'),
  couldSet: 'their phone, sites or status',
  readsAs: 'refused',
});

/** What the report says of sites (geofence, time zone) and thekedars (sites, phone, trust). */
export function recordRetagTexts(kind: SealedRecordKind): RetagTexts {
  return oneOutcomeRetagTexts({
    plural: `${kind}s`,
    label:
      kind === 'site' ? 'sites (geofence and time zone)' : 'thekedars (sites, phone and trust)',
    tampered: refusedRecordTampered(kind),
    couldSet: kind === 'site' ? 'their geofence or time zone' : 'their sites, phone or trust score',
    readsAs: 'refused',
  });
}

/** What the report says of payroll closes (the totals per worker a paid period was closed on). */
export const CLOSE_RETAG_TEXTS = oneOutcomeRetagTexts({
  plural: 'payroll closes',
  label: 'payroll closes (period, time, author and totals per worker)',
  tampered: (n) =>
    `tampered: ${n} payroll closes (site|first day) verify under no key held here; never re-tagged (the payroll of a period overlapping one answers 503 payroll_close_tampered: restore it from a backup)`,
  couldSet: 'the totals they were paid on',
  readsAs: '503 payroll_close_tampered',
});

/** What the report says of the heads of the sites' chains of closes (the latest close of each). */
export const CLOSE_HEAD_RETAG_TEXTS = oneOutcomeRetagTexts({
  plural: 'payroll close heads',
  label:
    "payroll close heads (per site: the latest close's place and digest, and the digest of its closes' periods)",
  tampered: (n) =>
    `tampered: ${n} payroll close heads (site) verify under no key held here; never re-tagged (the payroll reads of the site answer 503 payroll_close_chain_broken: restore its closes from a backup)`,
  couldSet:
    'which close is the latest (the newest closes deleted) and which periods are closed (a period moved)',
  readsAs: '503 payroll_close_chain_broken',
});

/** A fraud event's outcome as the tally counts it. */
export function fraudRetagMark(o: RetagOutcome): RetagMark {
  return {
    id: o.eventId,
    result: o.result === 'tampered' || o.result === 'suspect' ? 'left' : o.result,
    from: o.from,
    tampered: o.result === 'tampered',
    suspect: o.result === 'suspect' ? [{ listed: q(o.eventId), kids: o.from }] : [],
  };
}

/** A worker device's outcome as the tally counts it: each suspect row listed `device: what`. */
export function deviceRetagMark(o: WorkerDeviceRetagOutcome): RetagMark {
  return {
    id: o.deviceId,
    result: o.result,
    from: o.from,
    tampered: o.tampered > 0,
    suspect: o.suspect.map((row) => ({
      listed: `${q(o.deviceId)}: ${row.row === 'state' ? 'its block state' : `its ${q(row.action)} event ${q(row.eventId)}`}`,
      kids: [row.kid],
    })),
  };
}

/**
 * One outcome of a row under one key (a kiosk, worker, site, thekedar, payroll close: `from`
 * the key it was under, or the excepted one it verifies under) as the tally counts it, by `id`.
 */
export function oneOutcomeRetagMark(
  id: string,
  o: { result: RetagMark['result'] | 'tampered' | 'suspect'; from?: string },
): RetagMark {
  return {
    id,
    result: o.result === 'tampered' || o.result === 'suspect' ? 'left' : o.result,
    from: o.from && o.result !== 'suspect' ? [o.from] : [],
    tampered: o.result === 'tampered',
    suspect: o.result === 'suspect' ? [{ listed: q(id), kids: o.from ? [o.from] : [] }] : [],
  };
}

/** A row of RETAG_TABLE, made into its kind on the booted app. */
type RetagRow = (app: INestApplication) => RetagKind;

/** A row: the service whose page of outcomes is read (`page`), each outcome's mark, the words. */
function retagRow<S, O>(row: {
  service: Type<S>;
  page: (service: S, after: string, limit: number, except: string[]) => Promise<O[]>;
  mark: (outcome: O) => RetagMark;
  texts: RetagTexts;
}): RetagRow {
  return (app) => ({
    texts: row.texts,
    page: async (after, limit, except) =>
      (await row.page(app.get(row.service, { strict: false }), after, limit, except)).map(row.mark),
  });
}

/**
 * What `keys:retag` re-tags, in the order it does and reports it: a row a kind, its store's
 * pages, what counts of each outcome, and the report's words (retag-tally.ts walks and reports
 * them). A new kind is one row.
 */
const RETAG_TABLE: RetagRow[] = [
  retagRow({
    service: FraudService,
    page: (fraud, ...page) => fraud.retagPage(...page),
    mark: fraudRetagMark,
    texts: FRAUD_RETAG_TEXTS,
  }),
  retagRow({
    service: WorkerDeviceService,
    page: (devices, ...page) => devices.retagPage(...page),
    mark: deviceRetagMark,
    texts: DEVICE_RETAG_TEXTS,
  }),
  retagRow({
    service: KioskRegistryService,
    page: (kiosks, ...page) => kiosks.retagPage(...page),
    mark: (o) => oneOutcomeRetagMark(o.deviceId, o),
    texts: KIOSK_RETAG_TEXTS,
  }),
  retagRow({
    service: WorkforceService,
    page: (workforce, ...page) => workforce.retagPage(...page),
    mark: (o) => oneOutcomeRetagMark(o.workerId, o),
    texts: WORKER_RETAG_TEXTS,
  }),
  ...(['site', 'thekedar'] as const).map((kind) =>
    retagRow({
      service: WorkforceService,
      page: (workforce, ...page) => workforce.retagRecordsPage(kind, ...page),
      mark: (o) => oneOutcomeRetagMark(o.id, o),
      texts: recordRetagTexts(kind),
    }),
  ),
  retagRow({
    service: PayrollCloseService,
    page: (closes, ...page) => closes.retagPage(...page),
    mark: (o) => oneOutcomeRetagMark(o.id, o),
    texts: CLOSE_RETAG_TEXTS,
  }),
  retagRow({
    service: PayrollCloseService,
    page: (closes, ...page) => closes.retagHeadPage(...page),
    mark: (o) => oneOutcomeRetagMark(o.id, o),
    texts: CLOSE_HEAD_RETAG_TEXTS,
  }),
];

/**
 * The line on the SQLite kiosk events' mark (KioskSeal.retagMark): its number and what was done
 * with it. A suspect one (under an `--except` key) is left: exit 5, as the suspect rows.
 */
export function kioskMarkLine(mark: KioskMarkRetag, kid: string): string {
  const head = `kiosk event mark (SQLite; seq ${mark.seq})`;
  switch (mark.result) {
    case 'current':
      return `${head}: under the current key`;
    case 'retagged':
      return `${head}: re-tagged under ${kid} (from ${mark.from})`;
    case 'tampered':
      return `tampered: the ${head} verifies under no key held here: every kiosk reads tampered (blocked) and every kiosk change is refused (503 kiosk_mark_unverified); never re-tagged. Restore the kiosk tables from a backup, or delete the kiosk_event_mark row: the next kiosk event then skips a number, and every kiosk reads tampered until an admin's key rotation to its genuine key`;
    case 'suspect':
      return `suspect: the ${head} verifies only under a key given to --except (${mark.from})${mark.confirmed ? ', its number as the numbering stands' : '; the numbering does not confirm it (numbered kiosk events missing)'}: anyone holding that key could have written it after deleting the newest kiosk events; never re-tagged. Check the kiosks against a backup from before the leak, then any kiosk change (a registration, a key rotation, a block or unblock) writes it under the current key; dropped while it is under that key, every kiosk reads tampered and every kiosk change is refused (503 kiosk_mark_unverified)`;
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
  return true;
}

/**
 * The same check again once every row was re-tagged, right before the verdict: a replica that
 * started under another key while this ran (it was not there at the start) wrote its rows under
 * that key, so no retired key can be called removable. True (exit 4) unless `force`.
 */
async function refuseReplicasStartedMeanwhile(
  app: INestApplication,
  kid: string,
  force: boolean,
  out: (line: string) => void,
): Promise<boolean> {
  out('replicas seen again before the verdict (one may have started while this ran):');
  if (!(await refuseReplicasOnOtherKeys(app, kid, force, out))) return false;
  out(
    `refused at the end: a replica started under another store-MAC key while this ran; the rows it wrote are under that key and no retired key can be removed yet. Restart it with the current STORE_MAC_KEY and run keys:retag again`,
  );
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
    const code = await retagStoreMac(app, options, (line) => process.stdout.write(`${line}\n`));
    if (code !== 0) process.exitCode = code;
  });
}

/**
 * The command's work on a booted app (a job's: its own heartbeat stopped), what it prints
 * through `out`; its exit code.
 */
export async function retagStoreMac(
  app: INestApplication,
  options: { except: string[]; force: boolean },
  out: (line: string) => void,
): Promise<number> {
  const mac = app.get(StoreMac, { strict: false });
  const others = mac.heldOthers();
  const usage = (message: string) => {
    process.stderr.write(`keys:retag: ${message}\n${USAGE}\n`);
    return RETAG_USAGE;
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
  if (await refuseReplicasOnOtherKeys(app, mac.kid, force, out)) return RETAG_REPLICAS_ON_OTHER_KEY;

  const kinds = RETAG_TABLE.map((row) => row(app));
  const tallies: RetagTally[] = [];
  for (const kind of kinds) {
    const tally = await walkRetag(kind, except);
    reportRetag(kind.texts, tally, mac.kid, except, out);
    tallies.push(tally);
  }

  const mark = await app.get(KioskRegistryService, { strict: false }).retagMark(except);
  if (mark) out(kioskMarkLine(mark, mac.kid));

  // what else is still tagged under a key other than the current one
  const ledger = await ledgerKids(app);
  const vault = await app.get(VaultAuditService, { strict: false }).unsealedTagKids();
  const timesheets = (await app.get(TimesheetProjector, { strict: false }).sealKids()) ?? [];
  const blockers = new Map<string, string[]>();
  for (const key of others) {
    const notes: string[] = [];
    const block: string[] = [];
    kinds.forEach((kind, i) => {
      const of = retagKeyNotes(kind.texts, tallies[i], key.kid);
      notes.push(...of.notes);
      block.push(...of.blocks);
    });
    if (mark?.result === 'suspect' && mark.from === key.kid) {
      notes.push(
        'the suspect kiosk event mark is left under it (--except): once it is removed every kiosk reads tampered until a kiosk change writes the mark under the current key',
      );
      block.push('the kiosk event mark');
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
    const codesUntil = app
      .get(WorkforceService, { strict: false })
      .enrollmentCodesUnderUntil(key, new Date());
    if (codesUntil) {
      notes.push(
        `enrollment codes issued before it was retired may be keyed under it and stay redeemable until ${codesUntil.toISOString()} while it is held (a code cannot be re-keyed: it is not stored); removed earlier, they enroll nothing and need issuing again`,
      );
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

  const tampered = tallies.some((t) => t.tamperedCount > 0) || mark?.result === 'tampered';
  const suspect = tallies.some((t) => t.suspectCount > 0) || mark?.result === 'suspect';
  if (await refuseReplicasStartedMeanwhile(app, mac.kid, force, out)) {
    if (tampered) return RETAG_TAMPERED;
    if (suspect) return RETAG_SUSPECT;
    return RETAG_REPLICAS_ON_OTHER_KEY;
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
        `the oldest retired key ${oldest.kid} can be removed from STORE_MAC_RETIRED_KEYS (restart every replica after)${timesheets.includes(oldest.kid) ? '; the first start without it rebuilds the timesheet read model' : ''}${kinds.map((kind, i) => retagRemovableNote(kind.texts, tallies[i], oldest.kid)).join('')}; keep it with every backup taken before this retag: a restore of one needs it back in STORE_MAC_RETIRED_KEYS`,
      );
    }
  }
  if (tampered) return RETAG_TAMPERED;
  if (suspect) return RETAG_SUSPECT;
  if (tallies.some((t) => t.changedCount > 0)) return RETAG_CHANGED;
  return 0;
}
