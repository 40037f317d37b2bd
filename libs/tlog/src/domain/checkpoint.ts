import { HASH_BYTES } from './merkle';

/**
 * A C2SP tlog-checkpoint body: the origin line, the tree size in decimal, the root hash in
 * standard base64, each ending in "\n". No extension lines.
 */
export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Buffer;
}

/** A checkpoint as the log keeps it: the signed note, and when it was signed. */
export interface SignedCheckpoint {
  origin: string;
  size: number;
  /** hex of the root hash */
  rootHash: string;
  signedAt: Date;
  /** The signed note text, byte for byte as signed. */
  note: string;
}

export function checkpointText(c: Checkpoint): string {
  return `${c.origin}\n${c.size}\n${c.rootHash.toString('base64')}\n`;
}

/** Parses a checkpoint body (the note text); undefined when it is not one. */
export function parseCheckpointText(text: string): Checkpoint | undefined {
  const lines = text.split('\n');
  if (lines.length < 4 || lines[lines.length - 1] !== '') return undefined;
  const [origin, sizeLine, rootLine] = lines;
  if (!origin || !/^(0|[1-9][0-9]{0,15})$/.test(sizeLine)) return undefined;
  const rootHash = Buffer.from(rootLine, 'base64');
  if (rootHash.length !== HASH_BYTES || rootHash.toString('base64') !== rootLine) return undefined;
  const size = Number(sizeLine);
  return Number.isSafeInteger(size) ? { origin, size, rootHash } : undefined;
}
