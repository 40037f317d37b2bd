/**
 * `keys:retag`'s walk and report of one kind of rows it re-tags (fraud events, worker devices, kiosks):
 * every kind is read a page at a time through its store's `retagPage`, each outcome counted in
 * one tally of the same shape, and reported in the same lines with the kind's own words. A new
 * kind is one `RetagKind` entry (keys-retag.ts).
 */
import { q } from './quote';

/** Rows read (and re-tagged) a page at a time. */
export const RETAG_PAGE = 1000;
/** Ids listed at most in each list (the counts are always whole). */
export const RETAG_LISTED = 1000;

/** One outcome of a kind's `retagPage`, as the tally counts it. */
export interface RetagMark {
  /** Its id (the next page starts after the last one's). */
  id: string;
  /**
   * `changed`: a server changed it on every try (left under the keys of `from`); `deleted`:
   * gone between the page's read of ids and of rows; `left`: neither re-tagged nor current
   * (tampered or suspect, counted by the fields below).
   */
  result: 'retagged' | 'current' | 'changed' | 'deleted' | 'left';
  /** The key ids its re-tagged rows were under (or are left under, when changed). */
  from: readonly string[];
  /** Whether it has a row no held key vouches for. */
  tampered: boolean;
  /** Its rows that verify only under an excepted key: as listed, and the key ids. */
  suspect: readonly { listed: string; kids: readonly string[] }[];
}

/** A kind's counts (exact) and lists (the first RETAG_LISTED). */
export interface RetagTally {
  read: number;
  retagged: number;
  current: number;
  /** Gone between a page's read of ids and of rows (deleted meanwhile). */
  deleted: number;
  /** Re-tagged from each key id. */
  retaggedFrom: Map<string, number>;
  /** Left under each key id because they kept changing. */
  changedFrom: Map<string, number>;
  changed: string[];
  changedCount: number;
  /** With a row no held key vouches for (never re-tagged). */
  tampered: string[];
  tamperedCount: number;
  /** Rows that verify only under an excepted key (never re-tagged), as listed. */
  suspect: string[];
  suspectCount: number;
  /** Suspect rows under each excepted key id. */
  suspectFrom: Map<string, number>;
}

/** What the report says of a kind: the words of its lines (the numbers are the tally's). */
export interface RetagTexts {
  /** The summary line's head: `fraud events`. */
  label: string;
  /** Whether the summary says how many were already under the current key. */
  showCurrent: boolean;
  /** What the summary calls the tampered and the suspect: `tampered`, `suspect`. */
  tamperedWord: string;
  suspectWord: string;
  /** The head of the line listing the changed ones. */
  changedHead: string;
  /** The line before the tampered ones' list, and before the suspect ones' (`by`: per key). */
  tampered: (count: number) => string;
  suspect: (count: number, by: string) => string;
  /** The notes under a held key, in their order, of what is left under it. */
  keyNotes: { of: 'changed' | 'suspect'; note: (count: number) => string }[];
  /** What stays under a key because it kept changing (its removal is blocked). */
  blocks: string;
  /** Said when the oldest retired key can be removed, of the tampered and the suspect left. */
  removableTampered?: string;
  removableSuspect?: string;
}

/** A kind of rows `keys:retag` re-tags: its store's pages (their outcomes' marks), its words. */
export interface RetagKind {
  texts: RetagTexts;
  /** The outcomes of the rows after `after` (id order, `limit` of them), one per id read. */
  page(after: string, limit: number, except: string[]): Promise<RetagMark[]>;
}

export function newRetagTally(): RetagTally {
  return {
    read: 0,
    retagged: 0,
    current: 0,
    deleted: 0,
    retaggedFrom: new Map(),
    changedFrom: new Map(),
    changed: [],
    changedCount: 0,
    tampered: [],
    tamperedCount: 0,
    suspect: [],
    suspectCount: 0,
    suspectFrom: new Map(),
  };
}

const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

/** One outcome counted: every count whole, each list its first `listed`. */
export function countRetag(tally: RetagTally, mark: RetagMark, listed = RETAG_LISTED): void {
  tally.read++;
  for (const row of mark.suspect) {
    tally.suspectCount++;
    for (const kid of row.kids) add(tally.suspectFrom, kid);
    if (tally.suspect.length < listed) tally.suspect.push(row.listed);
  }
  if (mark.tampered) {
    tally.tamperedCount++;
    if (tally.tampered.length < listed) tally.tampered.push(mark.id);
  }
  if (mark.result === 'retagged') {
    tally.retagged++;
    for (const kid of mark.from) add(tally.retaggedFrom, kid);
  } else if (mark.result === 'current') tally.current++;
  else if (mark.result === 'deleted') tally.deleted++;
  else if (mark.result === 'changed') {
    tally.changedCount++;
    if (tally.changed.length < listed) tally.changed.push(mark.id);
    for (const kid of mark.from) add(tally.changedFrom, kid);
  }
}

/** Every row of a kind walked, a page at a time, and counted. */
export async function walkRetag(
  kind: RetagKind,
  except: string[],
  options: { pageSize?: number; listed?: number } = {},
): Promise<RetagTally> {
  const { pageSize = RETAG_PAGE, listed = RETAG_LISTED } = options;
  const tally = newRetagTally();
  for (let after = ''; ;) {
    const page = await kind.page(after, pageSize, except);
    for (const mark of page) countRetag(tally, mark, listed);
    // a page has an outcome per id read (`deleted` ones too): short only at the end
    if (page.length < pageSize) return tally;
    after = page[page.length - 1].id;
  }
}

/** A kind's lines: its summary, then what kept changing, the tampered and the suspect. */
export function reportRetag(
  texts: RetagTexts,
  t: RetagTally,
  kid: string,
  except: string[],
  out: (line: string) => void,
): void {
  const from = [...t.retaggedFrom].map(([k, n]) => `${n} from ${k}`).join(', ');
  out(
    `${texts.label}: ${t.read} read, ${t.retagged} re-tagged under ${kid}${from ? ` (${from})` : ''}${texts.showCurrent ? `, ${t.current} already under it` : ''}, ${t.changedCount} changed by a server on every try, ${t.tamperedCount} ${texts.tamperedWord}${except.length ? `, ${t.suspectCount} ${texts.suspectWord}` : ''}${t.deleted ? `, ${t.deleted} deleted meanwhile` : ''}`,
  );
  if (t.changedCount > 0) {
    out(
      `${texts.changedHead} (left as they are; run it again): ${t.changed.map(q).join(', ')}${t.changedCount > t.changed.length ? ` … and ${t.changedCount - t.changed.length} more` : ''}`,
    );
  }
  if (t.tamperedCount > 0) {
    out(texts.tampered(t.tamperedCount));
    for (const id of t.tampered) out(`  ${q(id)}`);
    if (t.tamperedCount > t.tampered.length)
      out(`  … and ${t.tamperedCount - t.tampered.length} more`);
  }
  if (t.suspectCount > 0) {
    const by = [...t.suspectFrom].map(([k, n]) => `${n} under ${k}`).join(', ');
    out(texts.suspect(t.suspectCount, by));
    for (const row of t.suspect) out(`  ${row}`);
    if (t.suspectCount > t.suspect.length) out(`  … and ${t.suspectCount - t.suspect.length} more`);
  }
}

/** A held key's notes of what a kind leaves under it, and whether that blocks its removal. */
export function retagKeyNotes(
  texts: RetagTexts,
  t: RetagTally,
  kid: string,
): { notes: string[]; blocks: string[] } {
  const notes: string[] = [];
  const blocks: string[] = [];
  for (const { of, note } of texts.keyNotes) {
    const count = (of === 'changed' ? t.changedFrom : t.suspectFrom).get(kid) ?? 0;
    if (count === 0) continue;
    notes.push(note(count));
    if (of === 'changed') blocks.push(texts.blocks);
  }
  return { notes, blocks };
}

/** What the line allowing the oldest retired key's removal adds of a kind's leftovers. */
export function retagRemovableNote(texts: RetagTexts, t: RetagTally, kid: string): string {
  return (
    (t.tamperedCount > 0 ? (texts.removableTampered ?? '') : '') +
    ((t.suspectFrom.get(kid) ?? 0) > 0 ? (texts.removableSuspect ?? '') : '')
  );
}
