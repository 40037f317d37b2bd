import type { Logger } from '@nestjs/common';
import type { Database } from 'better-sqlite3';
import { Gauge, MetricsRegistry } from '@app/common';

/**
 * "Tag the untagged rows once, behind a marker": the legacy tagging the tagged stores (fraud
 * events, worker devices, kiosks) run at the first start with their tags, on both stores.
 *
 * The rule, the same for every store and both databases:
 * - the marker set: nothing to do (it is written after the tags, never before);
 * - tagged rows, untagged ones and no marker: refused (`tagged_rows`), unless `forced` (FRAUD_LEGACY_TAGGING=1
 *   set explicitly): tagging then would launder any untagged row (a forged one, or one whose tag
 *   a database writer nulled) as legacy. A row is tagged when it or any of its child rows (a
 *   fraud review, a device event) carries a tag: a writer who strips the parents' tags alone
 *   must not make the store look like one from before the tags;
 * - neither marker nor tagged row but untagged ones: refused (`not_allowed`) unless `allowed`
 *   (FRAUD_LEGACY_TAGGING: only the environment, which no database writer sets, says this is the
 *   first start with the tags);
 * - otherwise the untagged rows are tagged as legacy, then the marker is written.
 */
export type LegacyTaggingRefusal = 'tagged_rows' | 'not_allowed';

/** A tagged store's legacy tagging as /health reports it (its `legacySeal()`). */
export interface LegacyTaggingState {
  /** When the untagged rows were tagged as legacy, and how many (absent until then). */
  sealedAt?: Date;
  count?: number;
  /** This start refused to tag them: the untagged rows read as tampered. */
  refused: boolean;
  refusedReason?: LegacyTaggingRefusal;
}

/** The state from the store's marker (SQLite row or MongoDB document) and this start's refusal. */
export function legacyTaggingState(
  marker: { at?: Date | string | null; count?: number | null } | undefined,
  refused: LegacyTaggingRefusal | undefined,
): LegacyTaggingState {
  return {
    ...(marker?.at ? { sealedAt: new Date(marker.at) } : {}),
    ...(typeof marker?.count === 'number' ? { count: marker.count } : {}),
    refused: refused !== undefined,
    ...(refused ? { refusedReason: refused } : {}),
  };
}

/** A SQLite store's state: its marker row (`markerTable`, id 1) and this start's refusal. */
export function sqliteLegacyTaggingState(
  db: Database,
  markerTable: string,
  refused: LegacyTaggingRefusal | undefined,
): LegacyTaggingState {
  const marker = db
    .prepare(
      `SELECT legacy_sealed_at AS at, legacy_sealed_count AS count FROM ${markerTable} WHERE id = 1`,
    )
    .get() as { at: string | null; count: number | null } | undefined;
  return legacyTaggingState(marker, refused);
}

/**
 * A MongoDB store's state from its marker document, and the refusal that still holds: one
 * refused for want of FRAUD_LEGACY_TAGGING (`not_allowed`) ends once another replica of the
 * same upgrade, started with it, tagged the rows (its marker is written after the tags).
 */
export function mongoLegacyTaggingState(
  marker: { at?: Date | null; count?: number | null } | null | undefined,
  refused: LegacyTaggingRefusal | undefined,
): { state: LegacyTaggingState; refused: LegacyTaggingRefusal | undefined } {
  const still = refused === 'not_allowed' && marker ? undefined : refused;
  return { state: legacyTaggingState(marker ?? undefined, still), refused: still };
}

/**
 * The gauge of a store whose refused legacy tagging blocks what it holds (worker devices,
 * kiosks): 1 while this start's refusal lasts (read from `store.legacyRefused` at each scrape),
 * as mdai_tlog_logs_rolled_back; alerts page on it.
 */
export function legacyTaggingRefusedGauge(
  name: string,
  help: string,
  store: { readonly legacyRefused?: LegacyTaggingRefusal },
  metrics?: MetricsRegistry,
): void {
  new Gauge({
    name,
    help,
    registers: metrics ? [metrics] : [],
    collect() {
      this.set(store.legacyRefused ? 1 : 0);
    },
  });
}

/** FRAUD_LEGACY_TAGGING as the seals read it. */
export interface LegacyTaggingSwitch {
  /** FRAUD_LEGACY_TAGGING on (the default outside production). */
  readonly legacyTaggingAllowed: boolean;
  /** FRAUD_LEGACY_TAGGING=1 set explicitly: tags the untagged rows whatever else is tagged. */
  readonly legacyTaggingForced: boolean;
}

/**
 * The switch from the fraud settings (FRAUD_LEGACY_TAGGING), read the same by every seal: allowed
 * without the settings (a tool, a contract spec), forced only by FRAUD_LEGACY_TAGGING=1 set
 * explicitly.
 */
export function legacyTaggingSwitch(
  settings: { legacyTagging?: boolean; legacyTaggingExplicit?: boolean } | undefined,
): LegacyTaggingSwitch {
  return {
    legacyTaggingAllowed: settings?.legacyTagging ?? true,
    legacyTaggingForced: settings?.legacyTaggingExplicit ?? false,
  };
}

/** What one start's legacy tagging did. */
export type LegacyTaggingResult =
  | { kind: 'marked' }
  | { kind: 'refused'; reason: LegacyTaggingRefusal }
  | { kind: 'tagged'; count: number };

/** What a store's log says of its legacy tagging. */
export interface LegacyTaggingLog {
  /** The field of the count of rows tagged (`events`, `devices`, `kiosks`). */
  counted: string;
  /** The line logged when rows were tagged. */
  tagged: string;
  /** The line logged even when no row was tagged (a store's first start with no rows). */
  evenNone?: boolean;
  /** The store's alarm of a refusal. */
  alarm(logger: Logger, reason: LegacyTaggingRefusal): void;
}

/**
 * What one start's legacy tagging did, in the store's log (`words`): a refusal alarmed, rows
 * tagged logged with their count. Returns the refusal, which the store keeps for /health.
 */
export function logLegacyTagging(
  result: LegacyTaggingResult,
  logger: Logger,
  words: LegacyTaggingLog,
): LegacyTaggingRefusal | undefined {
  if (result.kind === 'refused') {
    words.alarm(logger, result.reason);
    return result.reason;
  }
  if (result.kind === 'tagged' && (result.count > 0 || words.evenNone)) {
    logger.log({ [words.counted]: result.count }, words.tagged);
  }
  return undefined;
}

/** The refusal the rule gives, or none (`tagged`/`untagged`: whether such rows exist). */
export function legacyTaggingRefusal(
  rule: LegacyTaggingSwitch,
  tagged: boolean,
  untagged: boolean,
): LegacyTaggingRefusal | undefined {
  // nothing untagged: nothing to launder, the marker is written (a marker deleted alone must not
  // raise an alarm on every replica for rows that all verify)
  if (tagged && untagged && !rule.legacyTaggingForced) return 'tagged_rows';
  if (!tagged && !rule.legacyTaggingAllowed && untagged) return 'not_allowed';
  return undefined;
}

/** One SQLite store's legacy tagging: its marker table and its rows. */
export interface SqliteLegacyTagging {
  /**
   * The marker: a table with one row (id = 1) and the columns `legacy_sealed_at` (NULL until
   * the tagging ran) and `legacy_sealed_count`, inserted by the store's migration.
   */
  markerTable: string;
  /**
   * The marker's columns, when not `legacy_sealed_at` and `legacy_sealed_count` (a second
   * tagging of the same store behind its own marker: the worker devices' `v1` retirement).
   */
  markerColumns?: { at: string; count: string };
  /**
   * `SELECT EXISTS (…) AS tagged`: any row, or child row, carries a tag; or a check run in the
   * transaction (a tag that must be verified to tell).
   */
  taggedSql: string | (() => boolean);
  /** `SELECT EXISTS (…) AS untagged`: any row, or child row, carries none; or such a check. */
  untaggedSql: string | (() => boolean);
  /** Tags every untagged row as legacy (inside the transaction); the count of rows tagged. */
  tagUntagged(): number;
}

/** The legacy tagging of a SQLite store, in one IMMEDIATE transaction. */
export function tagLegacyRowsOnceSqlite(
  db: Database,
  rule: LegacyTaggingSwitch,
  spec: SqliteLegacyTagging,
): LegacyTaggingResult {
  const { at, count: counted } = spec.markerColumns ?? {
    at: 'legacy_sealed_at',
    count: 'legacy_sealed_count',
  };
  const pending = () =>
    (
      db.prepare(`SELECT ${at} AS at FROM ${spec.markerTable} WHERE id = 1`).get() as
        { at: string | null } | undefined
    )?.at === null;
  const exists = (check: string | (() => boolean), column: string) =>
    typeof check === 'string'
      ? (db.prepare(check).get() as Record<string, number>)[column] === 1
      : check();
  if (!pending()) return { kind: 'marked' };
  return db
    .transaction((): LegacyTaggingResult => {
      if (!pending()) return { kind: 'marked' };
      const tagged = exists(spec.taggedSql, 'tagged');
      const untagged = exists(spec.untaggedSql, 'untagged');
      const reason = legacyTaggingRefusal(rule, tagged, untagged);
      if (reason) return { kind: 'refused', reason };
      const count = spec.tagUntagged();
      db.prepare(`UPDATE ${spec.markerTable} SET ${at} = ?, ${counted} = ? WHERE id = 1`).run(
        new Date().toISOString(),
        count,
      );
      return { kind: 'tagged', count };
    })
    .immediate();
}

/** One MongoDB store's legacy tagging: its marker collection and its documents. */
export interface MongoLegacyTagging {
  /** The marker: `{ _id: 'legacy', at, count }` in this collection, written after the tags. */
  marks: {
    findOne(filter: { _id: string }): Promise<unknown>;
    insertOne(doc: { _id: string; at: Date; count: number }): Promise<unknown>;
  };
  /** Whether a document, or an embedded child row, carries a tag. */
  anyTagged(): Promise<boolean>;
  /** The documents the tagging takes (no tag of their own). */
  countUntagged(): Promise<number>;
  /**
   * One pass tagging the untagged documents as legacy, each only as read (`missed`: documents
   * changed meanwhile, which a next pass reads again).
   */
  pass(): Promise<{ tagged: number; missed: number }>;
  /** Milliseconds between the looks at another replica tagging (500; tests set less). */
  pollMs?: number;
  /**
   * The marker's `_id`, when not `legacy` (a second tagging of the same store behind its own
   * marker: the worker devices' `v1-retired`).
   */
  markerId?: string;
}

/**
 * The legacy tagging of a MongoDB store, before the server takes requests: replicas starting
 * together tag the same documents with the same tags (each update takes only an untagged
 * document), so tagged documents with no marker are first waited on (another replica tagging
 * now: its untagged count keeps decreasing) before the refusal.
 */
export async function tagLegacyRowsOnceMongo(
  rule: LegacyTaggingSwitch,
  spec: MongoLegacyTagging,
): Promise<LegacyTaggingResult> {
  const markerId = spec.markerId ?? 'legacy';
  const marked = async () => (await spec.marks.findOne({ _id: markerId })) != null;
  if (await marked()) return { kind: 'marked' };
  let tagged = await spec.anyTagged();
  if (tagged && !rule.legacyTaggingForced) {
    if (await markerAwaited(spec, marked)) return { kind: 'marked' };
    tagged = await spec.anyTagged();
  }
  const reason = legacyTaggingRefusal(rule, tagged, (await spec.countUntagged()) > 0);
  if (reason) return { kind: 'refused', reason };
  if (await marked()) return { kind: 'marked' };
  // tag first, the marker after: a start stopped half-way leaves no marker (the next start
  // finds tagged documents and refuses, loudly), never a marker over untagged documents
  let count = 0;
  for (let pass = 0; pass < 5; pass++) {
    const { tagged: n, missed } = await spec.pass();
    count += n;
    if (missed === 0) break;
  }
  try {
    await spec.marks.insertOne({ _id: markerId, at: new Date(), count });
  } catch {
    // another replica's marker: it tagged the same documents with the same tags
  }
  return { kind: 'tagged', count };
}

/** Waits while the untagged documents keep decreasing: true when the marker appears. */
async function markerAwaited(
  spec: MongoLegacyTagging,
  marked: () => Promise<boolean>,
): Promise<boolean> {
  const pollMs = spec.pollMs ?? 500;
  let untagged = await spec.countUntagged();
  for (let still = 0; still < 4;) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    if (await marked()) return true;
    const now = await spec.countUntagged();
    still = now < untagged ? 0 : still + 1;
    untagged = now;
  }
  return false;
}
