import { HASH_BYTES } from './merkle';

/**
 * A C2SP tlog-checkpoint body: the origin line, the tree size in decimal, the root hash in
 * standard base64, then extension lines, each ending in "\n". The one extension line this log
 * writes is `timestamp <Unix time in ms>`: when the checkpoint was signed, so the signature
 * covers it. Checkpoints signed before it existed have none; other extension lines are opaque
 * (the spec's) and ignored.
 */
export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Buffer;
  /** When it was signed (Unix ms), from its `timestamp` line; undefined when it has none. */
  timestamp?: number;
}

/** A checkpoint as the log keeps it: the signed note, and when it was signed. */
export interface SignedCheckpoint {
  origin: string;
  size: number;
  /** hex of the root hash */
  rootHash: string;
  /** When it was signed: a column beside the note, which must equal the note's `timestamp`. */
  signedAt: Date;
  /** The signed note text, byte for byte as signed. */
  note: string;
}

const TIMESTAMP = 'timestamp ';
const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;
/** The latest instant a JavaScript Date holds (ECMAScript's ±8.64e15 ms). */
const MAX_DATE_MS = 8.64e15;

export function checkpointText(c: Checkpoint): string {
  const body = `${c.origin}\n${c.size}\n${c.rootHash.toString('base64')}\n`;
  if (c.timestamp === undefined) return body;
  if (!Number.isSafeInteger(c.timestamp) || c.timestamp < 0)
    throw new Error('a checkpoint timestamp is a whole, non-negative number of ms');
  return `${body}${TIMESTAMP}${c.timestamp}\n`;
}

/**
 * Parses a checkpoint body (the note text); undefined when it is not one, or when its
 * `timestamp` line is malformed or repeated (a signing time read two ways is no signing time).
 */
export function parseCheckpointText(text: string): Checkpoint | undefined {
  const lines = text.split('\n');
  if (lines.length < 4 || lines[lines.length - 1] !== '') return undefined;
  const [origin, sizeLine, rootLine, ...extensions] = lines.slice(0, -1);
  if (!origin || !DECIMAL.test(sizeLine)) return undefined;
  const rootHash = Buffer.from(rootLine, 'base64');
  if (rootHash.length !== HASH_BYTES || rootHash.toString('base64') !== rootLine) return undefined;
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) return undefined;
  let timestamp: number | undefined;
  for (const line of extensions) {
    if (line === '') return undefined; // extension lines are non-empty
    if (!line.startsWith(TIMESTAMP) && line !== TIMESTAMP.trim()) continue;
    const value = line.slice(TIMESTAMP.length);
    if (timestamp !== undefined || !DECIMAL.test(value)) return undefined;
    timestamp = Number(value);
    if (timestamp > MAX_DATE_MS) return undefined; // no Date holds it
    if (!Number.isSafeInteger(timestamp)) return undefined;
  }
  return timestamp === undefined
    ? { origin, size, rootHash }
    : { origin, size, rootHash, timestamp };
}

/**
 * When a checkpoint was signed, as far as its signature says: the note's `timestamp` line
 * (`signed: true`), or else the stored `signedAt` beside it, which the signature does not cover.
 */
export function signingTimeOf(
  body: Checkpoint,
  c: Pick<SignedCheckpoint, 'signedAt'>,
): { at: Date; signed: boolean } {
  return body.timestamp === undefined
    ? { at: c.signedAt, signed: false }
    : { at: new Date(body.timestamp), signed: true };
}
