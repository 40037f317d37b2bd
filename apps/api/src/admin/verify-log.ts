/**
 * `npm run verify:log -- <export.ndjson> --checkpoint <note file> --key <key> [--receipt <json file>]`
 *
 * Verifies a ledger export offline (no server, no database): recomputes every recordHash
 * (SHA-256 of JCS({siteId, seq, prevHash, data, meta})) and the chain, builds the RFC 6962
 * Merkle tree, and checks that the signed checkpoint (C2SP tlog-checkpoint note, Ed25519)
 * is signed by the key and commits to the first <size> entries of the export. With
 * --receipt, also checks a receipt (a sync result, its `receipt` field, or a whole sync answer
 * with one result) against the checkpoint. --key takes a verifier key (`<origin>+<id>+<base64>`), the base64 32-byte
 * public key from /api/v5/tlog/keys, or a file holding either or the whole /api/v5/tlog/keys
 * answer: then the checkpoint may be signed by any of its keys, and when the note carries its
 * signing time (`timestamp <Unix ms>`) it must lie inside that key's window. Exit code 0 when
 * all holds.
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { jcs, sha256Hex } from '@app/common';
import {
  ChainLink,
  ChainVerifier,
  Checkpoint,
  leafOfRecordHash,
  noteSignedBy,
  parseCheckpointText,
  parseNote,
  parseVerifierKey,
  TreeBuilder,
  verifyInclusion,
} from '@app/tlog';
import { q } from './quote';

/** A line of a ledger export (GET /api/v5/ledger/<siteId>/export). */
export interface ExportLine {
  siteId: string;
  seq: number;
  prevHash: string;
  recordHash: string;
  data: unknown;
  meta: unknown;
}

/** A receipt (`results[].receipt` of a sync), alone or inside its sync result. */
interface Receipt {
  seq: number;
  treeSize: number;
  leafIndex: number;
  leafHash: string;
  inclusionProof: string[];
  recordHash?: string;
}
/**
 * The receipt of a --receipt file, in any of the shapes it is documented in: the `receipt`
 * object of a sync result (`results[i].receipt`), the sync result holding it, or the whole sync
 * answer when it has exactly one result. Anything else is refused naming what to give.
 */
function receiptIn(
  json: unknown,
  file: string,
): { receipt: Receipt; recordHash?: string; note?: string } {
  const shapes =
    'give the `receipt` of a sync result (results[i].receipt), the result itself, or a sync answer with one result';
  let value = json as Record<string, unknown> | null;
  // the signed checkpoint the receipt was issued against, when the file carries it: a sync
  // answer's `checkpoints` (one per site of its results: with one result, one), or a
  // `checkpoint` note beside the proof (as a vault read's x-audit-receipt has)
  let notes: unknown[] = [];
  if (value && typeof value === 'object' && Array.isArray(value.results)) {
    if (Array.isArray(value.checkpoints))
      notes = value.checkpoints.map((c) => (c as { note?: unknown } | null)?.note);
    if (value.results.length !== 1) {
      throw new Error(
        `--receipt ${file}: a sync answer with ${value.results.length} results: pick one (results[i] or results[i].receipt)`,
      );
    }
    value = value.results[0] as Record<string, unknown> | null;
  }
  if (!value || typeof value !== 'object')
    throw new Error(`--receipt ${file}: not a receipt: ${shapes}`);
  const inner = (value.receipt ?? value) as Record<string, unknown>;
  const recordHash = value.recordHash ?? inner.recordHash;
  notes.push(inner.checkpoint ?? value.checkpoint);
  notes = notes.filter((n) => n !== undefined);
  const wrong = [
    ['seq', Number.isSafeInteger(inner.seq)],
    // a tree holds at least the leaf it proves, at an index inside it
    ['treeSize', Number.isSafeInteger(inner.treeSize) && (inner.treeSize as number) >= 1],
    [
      'leafIndex',
      Number.isSafeInteger(inner.leafIndex) &&
        (inner.leafIndex as number) >= 0 &&
        (inner.leafIndex as number) < (inner.treeSize as number),
    ],
    ['leafHash', typeof inner.leafHash === 'string' && /^[0-9a-f]{64}$/.test(inner.leafHash)],
    [
      'inclusionProof',
      Array.isArray(inner.inclusionProof) &&
        inner.inclusionProof.every((p) => typeof p === 'string'),
    ],
    ['recordHash', recordHash === undefined || typeof recordHash === 'string'],
    ['checkpoint', notes.length <= 1 && notes.every((n) => typeof n === 'string')],
  ]
    .filter(([, ok]) => !ok)
    .map(([name]) => name);
  if (wrong.length > 0) {
    const status =
      typeof value.status === 'string' ? ` (a result ${value.status}, no receipt)` : '';
    throw new Error(
      `--receipt ${file}: not a receipt${status}: ${wrong.join(', ')} missing or malformed; ${shapes}`,
    );
  }
  return {
    receipt: inner as unknown as Receipt,
    recordHash: recordHash as string | undefined,
    note: notes[0] as string | undefined,
  };
}

function arg(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

function readMaybeFile(value: string): string {
  return existsSync(value) ? readFileSync(value, 'utf8').trim() : value.trim();
}

/** A key --key names, with its signing window when it came from the /api/v5/tlog/keys answer. */
export interface GivenKey {
  raw: Buffer;
  notBefore?: Date;
  notAfter?: Date;
  windowed: boolean;
}

/** The keys --key gives: a key, a file holding one, or the /api/v5/tlog/keys answer. */
export function givenKeys(value: string, origin: string): GivenKey[] {
  return keysOfText(readMaybeFile(value), origin);
}

/**
 * The keys a text names: a verifier key (of `origin`), a base64 32-byte Ed25519 key, or the
 * /api/v5/tlog/keys answer (`{"keys":[{publicKey, notBefore, notAfter}, ...]}`) with windows.
 */
export function keysOfText(text: string, origin: string): GivenKey[] {
  if (text.startsWith('{')) {
    const list = (JSON.parse(text) as { keys?: unknown }).keys;
    if (!Array.isArray(list) || list.length === 0)
      throw new Error('--key: a JSON file must be the /api/v5/tlog/keys answer ({"keys":[...]})');
    return list.map((k: { publicKey?: string; notBefore?: string; notAfter?: string }) => {
      const raw = Buffer.from(k.publicKey ?? '', 'base64');
      if (raw.length !== 32)
        throw new Error('--key: a key of the list is not a 32-byte Ed25519 key');
      return {
        raw,
        notBefore: k.notBefore ? new Date(k.notBefore) : undefined,
        notAfter: k.notAfter ? new Date(k.notAfter) : undefined,
        windowed: true,
      };
    });
  }
  const vkey = parseVerifierKey(text);
  if (vkey) {
    if (vkey.keyName !== origin)
      throw new Error(`--key names ${vkey.keyName}, the checkpoint ${origin}`);
    return [{ raw: vkey.rawPublicKey, windowed: false }];
  }
  const raw = Buffer.from(text, 'base64');
  if (raw.length !== 32)
    throw new Error('--key: expected a verifier key or a base64 32-byte Ed25519 key');
  return [{ raw, windowed: false }];
}

/** Whether the time signed into the note lies in the signing key's window (open ends: no bound). */
function inWindow(key: GivenKey, at: Date): boolean {
  return (!key.notBefore || key.notBefore <= at) && (!key.notAfter || at <= key.notAfter);
}

/** One thing a log check found: it holds (true), it does not (false), or it was not judged. */
export interface Finding {
  ok: boolean | undefined;
  what: string;
  /** `signature`: whether one of the keys signed the checkpoint (backup --check words it). */
  about?: 'signature';
}

/**
 * Free text from an export or a backup (an SQLite message, `PRAGMA integrity_check`'s lines,
 * an error naming what it read) on one line: its control characters escaped as in JSON, so a
 * newline in it cannot make a line of its own.
 */
export const oneLine = (text: string) =>
  // eslint-disable-next-line no-control-regex -- the control characters are what it escapes
  text.replace(/[\u0000-\u001f\u007f]/g, (c) =>
    c === '\u007f' ? '\\u007f' : JSON.stringify(c).slice(1, -1),
  );

/** How the links of one kind of log are hashed, told apart and named by their origin. */
export interface LogKind<T extends ChainLink> {
  /** The log's recordHash formula over a link. */
  recordHash: (link: T) => string;
  /** The chain a link belongs to (a ledger's site); the first link's is the log's. */
  chainOf: (link: T) => string;
  /** What the checkpoint's origin must end with for the log's chain (`/ledger/<siteId>`). */
  originSuffix: (chain: string) => string;
  /** The words for the log's chain in a finding (`the export's site (<siteId>)`). */
  named: (chain: string | undefined) => string;
}

/** A ledger export: `recordHash = SHA-256(JCS({siteId, seq, prevHash, data, meta}))`. */
export const LEDGER_EXPORT: LogKind<ExportLine> = {
  recordHash: (l) =>
    sha256Hex(
      jcs({ siteId: l.siteId, seq: l.seq, prevHash: l.prevHash, data: l.data, meta: l.meta }),
    ),
  chainOf: (l) => l.siteId,
  originSuffix: (siteId) => `/ledger/${siteId}`,
  named: (siteId) => `the export's site (${siteId === undefined ? 'empty export' : q(siteId)})`,
};

export interface LogCheck {
  ok: boolean;
  findings: Finding[];
  checkpoint: Checkpoint;
  /** Links that follow one from another (up to the first break). */
  length: number;
  /** The Merkle root of the first n links, for each n of the sizes asked for that the links reach. */
  rootsAt: Map<number, Buffer>;
  /** Whether the first `checkpoint.size` links recompute, unbroken, to the checkpoint's root. */
  rootOk: boolean;
}

/** How a key's window reads: its ends as ISO-8601, an open end said as such. */
function windowText(key: GivenKey): string {
  return `[${key.notBefore?.toISOString() ?? 'no notBefore: open'}, ${key.notAfter?.toISOString() ?? 'no notAfter: open (the active key)'}]`;
}

/**
 * Whether a signed checkpoint `note` is signed by one of the keys, inside its window when the
 * key has one. `label` names the checkpoint in the findings (`checkpoint`, `receipt's checkpoint`).
 */
export function checkNoteSignature(
  note: string,
  keysFor: (origin: string) => GivenKey[],
  label = 'checkpoint',
  source = '--checkpoint',
): { checkpoint: Checkpoint; signed: boolean; findings: Finding[] } {
  const findings: Finding[] = [];
  const say = (ok: boolean | undefined, what: string, about?: Finding['about']) =>
    findings.push(about ? { ok, what, about } : { ok, what });
  const parsed = parseNote(note);
  const checkpoint = parsed && parseCheckpointText(parsed.text);
  if (!parsed || !checkpoint) throw new Error(`${source}: not a C2SP tlog-checkpoint signed note`);
  const signer = keysFor(checkpoint.origin).find((k) =>
    noteSignedBy(parsed, checkpoint.origin, k.raw),
  );
  let signed = signer !== undefined;
  say(
    signed,
    `${label} ${checkpoint.origin} size ${checkpoint.size} signed by the key`,
    'signature',
  );
  const of = label === 'checkpoint' ? '' : ` (${label})`;
  if (checkpoint.timestamp === undefined && signer?.notAfter !== undefined) {
    // a retired key's note without the time: what a thief of the key would leave out
    say(
      false,
      `no signing time in a note of a retired key${of}: its window cannot be checked from the note (for a checkpoint from before notes carried the time, give that key alone as --key)`,
    );
    signed = false;
  } else if (checkpoint.timestamp === undefined) {
    say(true, `no signing time in the note${of} (signed before checkpoints carried one)`);
  } else {
    const at = new Date(checkpoint.timestamp);
    say(true, `signed at ${at.toISOString()} (the time in the signed note${of})`);
    if (signer?.windowed) {
      const inside = inWindow(signer, at);
      say(
        inside,
        `signed inside the key's window ${windowText(signer)}${of}: signed at ${at.toISOString()}`,
      );
      signed &&= inside;
    }
  }
  return { checkpoint, signed, findings };
}

/**
 * What `verify:log` checks, for any log: the signed checkpoint `note` (signed by one of the
 * keys, inside its window when the key has one), every link's recordHash and the chain, the
 * checkpoint's origin against the links' chain, and the Merkle root of the first `size` links
 * against the checkpoint's. `sizes`: further tree sizes whose root to give back (`rootsAt`).
 */
export async function checkLogAgainstCheckpoint<T extends ChainLink>(
  kind: LogKind<T>,
  links: AsyncIterable<T>,
  note: string,
  keysFor: (origin: string) => GivenKey[],
  sizes: ReadonlySet<number> = new Set(),
): Promise<LogCheck> {
  const findings: Finding[] = [];
  const say = (ok: boolean | undefined, what: string, about?: Finding['about']) =>
    findings.push(about ? { ok, what, about } : { ok, what });
  const { checkpoint, signed, findings: signature } = checkNoteSignature(note, keysFor);
  findings.push(...signature);

  let chainName: string | undefined;
  const chain = new ChainVerifier<T>(kind.recordHash, (l) => kind.chainOf(l) === chainName);
  const tree = new TreeBuilder();
  // the tree of no entries has the root of RFC 9162 §2.1.1, SHA-256 of the empty string
  let rootAtCheckpoint = checkpoint.size === 0 ? tree.root() : undefined;
  const rootsAt = new Map<number, Buffer>();
  for await (const link of links) {
    chainName ??= kind.chainOf(link);
    if (!chain.accept(link)) break;
    tree.pushRecordHash(link.recordHash);
    if (tree.size === checkpoint.size) rootAtCheckpoint = tree.root();
    if (sizes.has(tree.size)) rootsAt.set(tree.size, tree.root());
  }
  const broken = chain.firstBreak;
  say(
    !broken,
    broken
      ? `chain broken at seq ${broken.seq} (${broken.reason})`
      : `chain of ${chain.length} links recomputes`,
  );
  const originOk =
    chainName === undefined || checkpoint.origin.endsWith(kind.originSuffix(chainName));
  say(originOk, `checkpoint origin matches ${kind.named(chainName)}`);
  // a chain that breaks within the checkpoint's size stops the walk there: how many links the
  // export has and what its first links' root is cannot be told (the links after the break are
  // not the log's), so neither is reported as a cut or a root mismatch: the break is the fault
  const judged = !broken || broken.seq > checkpoint.size;
  const covered = chain.length >= checkpoint.size;
  const rootOk = rootAtCheckpoint?.equals(checkpoint.rootHash) ?? false;
  if (judged) {
    say(
      covered,
      covered
        ? 'export reaches the checkpoint size'
        : `export has ${chain.length} links, the signed checkpoint ${checkpoint.size}: history was cut`,
    );
    say(rootOk, `Merkle root of the first ${checkpoint.size} links equals the checkpoint root`);
  } else {
    say(
      undefined,
      `the export's length and Merkle root against the checkpoint (size ${checkpoint.size}): the chain breaks inside it, at seq ${broken.seq}`,
    );
  }
  return {
    ok: signed && !broken && originOk && covered && rootOk,
    findings,
    checkpoint,
    length: chain.length,
    rootsAt,
    rootOk: judged && covered && rootOk,
  };
}

/** The lines of a ledger export file, parsed. */
async function* exportLines(file: string): AsyncGenerator<ExportLine> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let lineNo = 0;
  for await (const text of lines) {
    lineNo++;
    if (text.trim() === '') continue;
    let line: ExportLine;
    try {
      line = JSON.parse(text) as ExportLine;
    } catch (error) {
      throw new Error(
        `${file}: line ${lineNo} is not JSON (a truncated or damaged export?): ${(error as Error).message}`,
      );
    }
    yield line;
  }
}

/**
 * The signed note of a --checkpoint file: the note itself, or the JSON answer of
 * `GET …/checkpoint` (its `note` field).
 */
function checkpointNote(text: string): string {
  if (!text.trimStart().startsWith('{')) return text;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(
      '--checkpoint: a JSON file that does not parse: give the signed note, or the GET …/checkpoint answer',
    );
  }
  const note = (json as { note?: unknown } | null)?.note;
  if (typeof note !== 'string')
    throw new Error(
      '--checkpoint: JSON without a "note" string: give the signed note (the "note" field of GET …/checkpoint)',
    );
  return note;
}

async function main(args: string[]): Promise<boolean> {
  const file = args[0];
  const noteFile = arg(args, '--checkpoint');
  const keyArg = arg(args, '--key');
  if (!file || file.startsWith('--') || !noteFile || !keyArg) {
    process.stderr.write(
      'usage: npm run verify:log -- <export.ndjson> --checkpoint <note> --key <key> [--receipt <json>]\n',
    );
    return false;
  }
  const note = checkpointNote(readFileSync(noteFile, 'utf8'));
  const receiptFile = arg(args, '--receipt');
  const given = receiptFile
    ? receiptIn(JSON.parse(readFileSync(receiptFile, 'utf8')) as unknown, receiptFile)
    : undefined;
  const keysFor = (o: string) => givenKeys(keyArg, o);
  // the export's recordHash at the receipt's seq, taken on the walk (its root at the
  // receipt's tree size too: a receipt of an older tree is checked against that root)
  let exported: string | undefined;
  async function* watching(links: AsyncIterable<ExportLine>): AsyncGenerator<ExportLine> {
    for await (const link of links) {
      if (link.seq === given?.receipt.seq) exported ??= link.recordHash;
      yield link;
    }
  }
  const checked = await checkLogAgainstCheckpoint(
    LEDGER_EXPORT,
    watching(exportLines(file)),
    note,
    keysFor,
    new Set(given ? [given.receipt.treeSize] : []),
  );
  for (const finding of checked.findings) print(finding);
  let ok = checked.ok;
  if (given) {
    const findings = checkReceipt(given, checked, exported, keysFor);
    for (const finding of findings) print(finding);
    // a receipt verifies only when some check says so: one left unchecked is not a pass
    ok &&= findings.every((f) => f.ok !== false) && findings.some((f) => f.ok === true);
  }
  process.stdout.write(ok ? 'OK\n' : 'FAILED\n');
  return ok;
}

/**
 * What a receipt (`seq`, its leaf at `leafIndex` in the tree of `treeSize`, the inclusion
 * proof) shows against the checked export and checkpoint. A receipt of the checkpoint's tree
 * is checked against the checkpoint's root. A receipt of an older tree (a kept receipt, today's
 * checkpoint) against the root of the export's first `treeSize` links, a prefix of the signed
 * tree when the export's first `checkpoint.size` links give the checkpoint's root; when the
 * receipt carries its signed checkpoint (a sync answer's, or a `checkpoint` note), that note
 * must be signed by the key and commit to the same root. A receipt of a newer tree than the
 * checkpoint cannot be judged by it.
 */
function checkReceipt(
  given: { receipt: Receipt; recordHash?: string; note?: string },
  checked: LogCheck,
  exported: string | undefined,
  keysFor: (origin: string) => GivenKey[],
): Finding[] {
  const { receipt, recordHash } = given;
  const { checkpoint } = checked;
  const findings: Finding[] = [];
  const say = (ok: boolean | undefined, what: string) => findings.push({ ok, what });
  const seq = `receipt: seq ${receipt.seq}`;
  const sizes = `receipt at tree size ${receipt.treeSize}, checkpoint at ${checkpoint.size}`;
  // the receipt alone carries no recordHash: its leaf hash is what the proof is checked for
  const leaf = recordHash ? leafOfRecordHash(recordHash) : Buffer.from(receipt.leafHash, 'hex');
  if (leaf.toString('hex') !== receipt.leafHash)
    say(false, `${seq}: its leafHash is not the leaf of its recordHash`);
  // the seq it names is the leaf it proves (leaf index seq − 1): an edited seq names another
  if (receipt.leafIndex !== receipt.seq - 1)
    say(
      false,
      `${seq}: its leafIndex ${receipt.leafIndex} is not seq − 1 (it proves another entry)`,
    );
  if (receipt.treeSize > checkpoint.size) {
    say(
      false,
      `${seq}: ${sizes}: the checkpoint is older than the receipt (give a checkpoint of at least ${receipt.treeSize} entries, GET …/checkpoint)`,
    );
    return findings;
  }
  const older = receipt.treeSize < checkpoint.size;
  const root = older ? checked.rootsAt.get(receipt.treeSize) : checkpoint.rootHash;
  if (!root) {
    say(
      false,
      `${seq} (${sizes}): the export's first ${receipt.treeSize} links do not recompute, so nothing to check the proof against`,
    );
    return findings;
  }
  if (exported !== undefined && leafOfRecordHash(exported).toString('hex') !== receipt.leafHash)
    say(false, `${seq}: its leaf is not the export's at seq ${receipt.seq}`);
  const proven = verifyInclusion(
    receipt.leafIndex,
    receipt.treeSize,
    leaf,
    receipt.inclusionProof.map((p) => Buffer.from(p, 'base64')),
    root,
  );
  if (!proven) {
    say(
      false,
      older
        ? `${seq}: its inclusion proof does not verify against the root of the export's first ${receipt.treeSize} links (${sizes})`
        : `${seq}: its inclusion proof does not verify against the checkpoint's root (tree size ${checkpoint.size})`,
    );
  }
  if (given.note !== undefined) {
    const label = "receipt's checkpoint";
    const own = checkNoteSignature(given.note, keysFor, label, '--receipt');
    findings.push(...own.findings);
    const same =
      own.checkpoint.origin === checkpoint.origin &&
      own.checkpoint.size === receipt.treeSize &&
      own.checkpoint.rootHash.equals(root);
    say(
      same,
      same
        ? `${label}: its root is the root of the export's first ${receipt.treeSize} links`
        : `${label} (${own.checkpoint.origin} size ${own.checkpoint.size}) is not the receipt's tree (${checkpoint.origin} size ${receipt.treeSize}) with the root of the export's first ${receipt.treeSize} links`,
    );
  }
  if (older && !checked.rootOk) {
    say(
      false,
      `${seq} (${sizes}): the export's first ${checkpoint.size} links do not give the checkpoint's root, so its first ${receipt.treeSize} are not shown to be a prefix of the signed tree`,
    );
  }
  if (findings.every((f) => f.ok !== false)) {
    say(
      true,
      older
        ? `${seq} is in the signed tree of ${checkpoint.size} (${sizes}: its proof verifies against the root of the export's first ${receipt.treeSize} links, a prefix of the signed tree)`
        : `${seq} is in the signed tree of ${checkpoint.size}`,
    );
  }
  return findings;
}

function print(finding: Finding): void {
  if (finding.ok === undefined) skip(finding.what);
  else say(finding.ok, finding.what);
}

function say(ok: boolean, what: string): void {
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
}

/** A check that an earlier failure leaves nothing to judge by. */
function skip(what: string): void {
  process.stdout.write(`--   not checked: ${what}\n`);
}

/** `verify:log <export.ndjson> --checkpoint <note> --key <key> [--receipt <json>]`. */
export function verifyLog(args: string[]): void {
  main(args).then(
    (ok) => process.exit(ok ? 0 : 1),
    (error: unknown) => {
      process.stderr.write(`verify:log: ${(error as Error).message}\n`);
      process.exit(2);
    },
  );
}
