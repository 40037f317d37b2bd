import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';

/**
 * An independent client-side check of what the server hands out: a C2SP signed-note /
 * tlog-checkpoint parser and the RFC 9162 §2.1.3.2 / §2.1.4.2 verification algorithms, written
 * here from the specs (the tests do not use @app/tlog to check @app/tlog).
 */

const sha = (...parts: Buffer[]) => {
  const h = createHash('sha256');
  parts.forEach((p) => h.update(p));
  return h.digest();
};
const hashChildren = (l: Buffer, r: Buffer) => sha(Buffer.of(1), l, r);

export interface NoteCheckpoint {
  origin: string;
  size: number;
  root: Buffer;
  /** The `timestamp <Unix ms>` extension line's value, when the note has one. */
  timestamp?: number;
  text: Buffer;
  signatures: { name: string; keyId: Buffer; sig: Buffer }[];
}

export function readCheckpointNote(note: string): NoteCheckpoint {
  const bytes = Buffer.from(note, 'utf8');
  const at = bytes.lastIndexOf(Buffer.from('\n\n'));
  if (at < 0) throw new Error('no blank line');
  const text = bytes.subarray(0, at + 1);
  const signatures = bytes
    .subarray(at + 2)
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      if (!line.startsWith('\u2014 ')) throw new Error('signature line must start with an em dash');
      const [name, b64] = line.slice(2).split(' ');
      const blob = Buffer.from(b64, 'base64');
      return { name, keyId: blob.subarray(0, 4), sig: blob.subarray(4) };
    });
  const lines = text.toString('utf8').split('\n');
  // extension lines: everything after the root hash line, up to the text's final newline
  const stamps = lines.slice(3, -1).filter((l) => l.split(' ')[0] === 'timestamp');
  if (stamps.length > 1) throw new Error('more than one timestamp line');
  const stamp = stamps[0]?.split(' ')[1];
  if (stamp !== undefined && !/^(0|[1-9]\d*)$/.test(stamp)) throw new Error('bad timestamp line');
  return {
    origin: lines[0],
    size: Number.parseInt(lines[1], 10),
    root: Buffer.from(lines[2], 'base64'),
    ...(stamp === undefined ? {} : { timestamp: Number(stamp) }),
    text,
    signatures,
  };
}

/**
 * A checkpoint note signed with an Ed25519 private key (PKCS#8 PEM, `\n` escaped or not) under
 * the origin's key name, with a `timestamp` line when `timestamp` is given: what someone holding
 * a log key (a stolen retired one) can write.
 */
export function signCheckpointNote(
  c: { origin: string; size: number; root: Buffer; timestamp?: number },
  privateKeyPem: string,
): string {
  const key = createPrivateKey(privateKeyPem.replace(/\\n/g, '\n'));
  const raw = createPublicKey(key).export({ type: 'spki', format: 'der' }).subarray(-32);
  const keyId = sha(Buffer.from(c.origin, 'utf8'), Buffer.of(0x0a, 0x01), raw).subarray(0, 4);
  const text =
    `${c.origin}\n${c.size}\n${c.root.toString('base64')}\n` +
    (c.timestamp === undefined ? '' : `timestamp ${c.timestamp}\n`);
  const sig = sign(null, Buffer.from(text, 'utf8'), key);
  return `${text}\n\u2014 ${c.origin} ${Buffer.concat([keyId, sig]).toString('base64')}\n`;
}

/** RFC 9162 §2.1.1 MTH over the leaves of these recordHashes (hex). */
export function merkleRoot(recordHashes: string[]): Buffer {
  if (recordHashes.length === 0) return sha();
  if (recordHashes.length === 1) return leafOf(recordHashes[0]);
  let k = 1;
  while (k * 2 < recordHashes.length) k *= 2;
  return hashChildren(merkleRoot(recordHashes.slice(0, k)), merkleRoot(recordHashes.slice(k)));
}

/** True when the note carries a valid Ed25519 signature by `rawKey` under the origin's key name. */
export function checkpointSignedBy(note: string, rawKeyBase64: string): boolean {
  const c = readCheckpointNote(note);
  const raw = Buffer.from(rawKeyBase64, 'base64');
  const keyId = sha(Buffer.from(c.origin, 'utf8'), Buffer.of(0x0a, 0x01), raw).subarray(0, 4);
  const key = createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]),
    format: 'der',
    type: 'spki',
  });
  return c.signatures.some(
    (s) => s.name === c.origin && s.keyId.equals(keyId) && verify(null, c.text, key, s.sig),
  );
}

export function leafOf(recordHashHex: string): Buffer {
  return sha(Buffer.of(0), Buffer.from(recordHashHex, 'hex'));
}

export function inclusionHolds(
  leafIndex: number,
  treeSize: number,
  leaf: Buffer,
  proofB64: string[],
  root: Buffer,
): boolean {
  if (leafIndex >= treeSize) return false;
  let fn = BigInt(leafIndex);
  let sn = BigInt(treeSize - 1);
  let r = leaf;
  for (const p of proofB64.map((x) => Buffer.from(x, 'base64'))) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = hashChildren(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && r.equals(root);
}

export function consistencyHolds(
  first: number,
  second: number,
  firstRoot: Buffer,
  secondRoot: Buffer,
  proofB64: string[],
): boolean {
  const proof = proofB64.map((x) => Buffer.from(x, 'base64'));
  if (first === second) return proof.length === 0 && firstRoot.equals(secondRoot);
  if (first === 0 || first > second) return false;
  const isPow2 = (BigInt(first) & (BigInt(first) - 1n)) === 0n;
  const path = isPow2 ? [firstRoot, ...proof] : proof;
  if (path.length === 0) return false;
  let fn = BigInt(first - 1);
  let sn = BigInt(second - 1);
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && fr.equals(firstRoot) && sr.equals(secondRoot);
}

/** A sync receipt's inclusion proof holds against the checkpoint `cp` (its size and root). */
export function receiptProven(
  r: { recordHash: string; receipt: { leafIndex: number; inclusionProof: string[] } },
  cp: { size: number; root: Buffer },
): boolean {
  return inclusionHolds(
    r.receipt.leafIndex,
    cp.size,
    leafOf(r.recordHash),
    r.receipt.inclusionProof,
    cp.root,
  );
}
