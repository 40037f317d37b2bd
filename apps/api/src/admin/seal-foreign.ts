/**
 * The flow the two seal-foreign commands share (`ledger:seal-foreign`, `vault:seal-foreign`):
 * the arguments (`--yes --through <seq> --head <recordHash>`), the listing of the entries past a
 * log's last checkpoint that the server did not write, and the seal through the seq the
 * operator was shown. What differs, the log and how one of its entries reads, is the caller's.
 */
import { INestApplicationContext } from '@nestjs/common';
import { ForeignSealRefusedError, NodesMismatchError, UnauthenticatedReason } from '@app/tlog';
import { runAppJob } from './app-job';
import { q } from './quote';

/** How many foreign entries a listing shows at most. */
export const LISTED = 1000;

/** Faults no seal can include: the entry's texts do not hash to its recordHash, or do not chain. */
const UNSEALABLE: ReadonlySet<UnauthenticatedReason> = new Set<UnauthenticatedReason>([
  'record_hash_mismatch',
  'prev_hash_mismatch',
]);

/** The `--yes`, `--through` and `--head` of a seal-foreign command line. */
export interface SealForeignArgs {
  confirmed: boolean;
  through?: number;
  head?: string;
}

/** The entries past the last checkpoint without a valid server MAC, as the owner lists them. */
export interface ForeignListing<E extends { seq: number }> {
  sealedSize: number;
  head: number;
  entries: E[];
  /** Every such entry up to `head` is in `entries` (false: the first LISTED). */
  complete: boolean;
  /** The seq the listing offers to seal through. */
  through: number;
}

export interface SealForeignLog<E extends { seq: number }> {
  /** The command's name (`ledger:seal-foreign`). */
  command: string;
  /** One entry and several (`link`, `links`). */
  entry: string;
  entries: string;
  /** What the head belongs to, in a refusal (`the site's head`). */
  headOf: string;
  /** What a changed entry was read from, in a refusal (`the chain`). */
  whole: string;
  /** The first line: the log, its head and its last checkpoint's size. */
  header(listing: ForeignListing<E>): string;
  /** The fields of one listed entry, every one read from the database quoted. */
  describe(entry: E): string[];
  /** Why the entry is listed. */
  fault(entry: E): UnauthenticatedReason;
  /** Before the listing: why the command cannot run at all (an unknown site), or undefined. */
  unknown?(app: INestApplicationContext): Promise<string | undefined>;
  list(app: INestApplicationContext): Promise<ForeignListing<E>>;
  recordHashAt(app: INestApplicationContext, seq: number): Promise<string | undefined>;
  seal(app: INestApplicationContext, through: number, head: string): Promise<number>;
  /**
   * Seals the entries past the last checkpoint when all carry the server's MAC (a server stopped
   * between their commit and their seal): what the servers do at start-up and every minute.
   * Returns the checkpoint's size.
   */
  sealTail?(app: INestApplicationContext, head: number): Promise<number>;
  /** After a seal that left foreign entries past `through`: what stays refused. */
  stillRefused: string;
  /** Entries appended past `through` meanwhile, all tagged: who seals them (`appended since, …`). */
  since: string;
  /** After a complete seal: what takes requests again (`the site takes appends again`). */
  reopened: string;
}

/** A field read from the database, JSON-quoted ('-': absent). */
export const field = (value: unknown) => (value === undefined || value === null ? '-' : q(value));

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? (args[at + 1] ?? '') : undefined;
}

/**
 * `--yes --through <seq> --head <recordHash>` of `args` (exit 64 with `usage` when they are
 * malformed, or when `--yes` comes without the other two: what the listing showed).
 */
export function sealForeignArgs(
  args: string[],
  usageLine: string,
  entries: string,
): SealForeignArgs {
  const usage = (why?: string): never => {
    process.stderr.write(`${why ? `${why}\n` : ''}${usageLine}\n`);
    process.exit(64);
  };
  const throughArg = option(args, '--through');
  const head = option(args, '--head');
  if (throughArg !== undefined && !/^[1-9][0-9]{0,15}$/.test(throughArg))
    usage('--through takes the seq the listing showed (a whole number from 1)');
  if (head !== undefined && !/^[0-9a-f]{64}$/.test(head))
    usage('--head takes the recordHash the listing showed (64 hex digits)');
  const confirmed = args.includes('--yes');
  const through = throughArg === undefined ? undefined : Number(throughArg);
  if (confirmed && (through === undefined || head === undefined))
    usage(
      `--yes needs --through <seq> --head <recordHash>: what the listing (run without --yes) says it would seal through, so ${entries} appended or rewritten since are not sealed unseen`,
    );
  return { confirmed, through, head };
}

/** Lists the log's foreign entries, and with `--yes` seals through the seq the listing showed. */
export function runSealForeign<E extends { seq: number }>(
  log: SealForeignLog<E>,
  { confirmed, through, head: headArg }: SealForeignArgs,
): void {
  runAppJob(`${log.command} failed`, async (app) => {
    const unknown = await log.unknown?.(app);
    if (unknown) {
      process.stderr.write(`${unknown}\n`);
      process.exitCode = 64;
      return;
    }
    const listing = await log.list(app);
    const { sealedSize, head, entries, complete } = listing;
    const out = (line: string) => process.stdout.write(`${line}\n`);
    out(log.header(listing));
    if (entries.length === 0 && head > sealedSize && log.sealTail) {
      // the server's own entries, left without a checkpoint by a crash between their commit
      // and their seal: no operator decision to take, sealed as the servers' sweep would
      const size = await log.sealTail(app, head);
      out(
        `no ${log.entry} past the last checkpoint lacks a valid server MAC; seq ${sealedSize + 1}..${head} had no checkpoint (a server stopped between their commit and their seal; the servers seal such ${log.entries} at start-up and every minute): sealed, checkpoint of size ${size} signed`,
      );
      return;
    }
    if (entries.length === 0) {
      out(`no ${log.entry} past the last checkpoint lacks a valid server MAC: nothing to seal`);
      return;
    }
    const upTo = through ?? listing.through;
    if (upTo > head) {
      process.stderr.write(
        `refused: --through ${upTo} is past ${log.headOf} (seq ${head}): give the seq the listing showed\n`,
      );
      process.exitCode = 64;
      return;
    }
    for (const entry of entries) {
      out(
        [
          `seq ${entry.seq}`,
          ...log.describe(entry),
          ...(entry.seq > upTo ? [`(past seq ${upTo}: not sealed)`] : []),
          ...(UNSEALABLE.has(log.fault(entry)) ? ['(cannot be sealed)'] : []),
        ].join('  '),
      );
    }
    if (!complete) out(`(the first ${LISTED} shown)`);
    const unsealable = entries.filter((e) => e.seq <= upTo && UNSEALABLE.has(log.fault(e)));
    if (unsealable.length > 0) {
      const seqs = unsealable.map((e) => e.seq).join(', ');
      process.stderr.write(
        `cannot be sealed: ${unsealable.length === 1 ? `${log.entry} ${seqs} does` : `${log.entries} ${seqs} do`} not hash to the recordHash stored with it or not chain to the one before (its stored texts were changed): no seal can include it; nothing sealed. Restore the store from a backup taken before the change (see "Backup and restore")\n`,
      );
      process.exitCode = 65;
      return;
    }
    if (!confirmed) {
      const at = await log.recordHashAt(app, upTo);
      out(`would seal through seq ${upTo} (recordHash ${q(at)})`);
      out(
        `not sealed: run again with --yes --through ${upTo} --head ${at} to sign a checkpoint over seq 1..${upTo}, these ${log.entries} included`,
      );
      process.exitCode = 2;
      return;
    }
    if (upTo <= sealedSize) {
      process.stderr.write(
        `refused: the last checkpoint already covers seq ${sealedSize} (--through ${upTo}): run without --yes to see what is left\n`,
      );
      process.exitCode = 64;
      return;
    }
    let size: number;
    try {
      size = await log.seal(app, upTo, headArg as string);
    } catch (error) {
      if (error instanceof NodesMismatchError && error.retryable !== undefined) {
        // lv3mend review L1: the tree's rebuild from the entries failed (a store error), which
        // says nothing of the entries: not the refusal below, and worth running again
        process.stderr.write(
          `not sealed, try again: the stored Merkle tree of log ${error.origin} does not give the root its checkpoint of size ${error.size} signs, and it could not be rebuilt from the log's entries now (${q(error.retryable)}: most likely the store failed, not a rewrite of the entries): nothing sealed; run the command again once the store answers (/health: tlog nodes_mismatch meanwhile)\n`,
        );
        process.exitCode = 75;
        return;
      }
      if (error instanceof NodesMismatchError) {
        // fail-closed by design (review LV #3): the tree and its entries both rewritten
        process.stderr.write(
          `refused: the stored Merkle tree of log ${error.origin} does not give the root its checkpoint of size ${error.size} signs (rewritten outside the server), and its entries do not give it either: nothing sealed; restore the log from a backup (/health: tlog nodes_mismatch)\n`,
        );
        process.exitCode = 66;
        return;
      }
      if (!(error instanceof ForeignSealRefusedError)) throw error;
      process.stderr.write(
        `refused: ${log.entry} ${error.seq} is not the one listed (${error.reason}): nothing sealed; run without --yes to see ${log.whole} as it is now\n`,
      );
      process.exitCode = 65;
      return;
    }
    out(`sealed: checkpoint of size ${size} signed (through seq ${upTo})`);
    if (entries.some((entry) => entry.seq > upTo))
      out(
        `${log.entries} past seq ${upTo} without a valid server MAC are not sealed: ${log.stillRefused}; run without --yes to see them`,
      );
    else if (!complete)
      out(
        `${log.entries} past seq ${upTo} were not looked at: run without --yes to see what is left`,
      );
    else if (head > upTo) out(`seq ${upTo + 1}..${head}, ${log.since}; ${log.reopened}`);
    else out(log.reopened);
  });
}
