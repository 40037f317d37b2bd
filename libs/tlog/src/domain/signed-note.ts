import { createHash, createPublicKey, KeyObject, sign, verify } from 'node:crypto';

/**
 * C2SP signed notes with Ed25519 signatures: text ending in "\n", a blank line, then lines
 * "— <key name> <base64(4-byte key id ‖ 64-byte signature)>\n". The key id is the first four
 * bytes of SHA-256(<key name> ‖ 0x0A ‖ 0x01 ‖ <32-byte public key>).
 */

const EM_DASH_PREFIX = '\u2014 ';
const ED25519_TYPE = 0x01;
export const MAX_NOTE_BYTES = 16 * 1024;

export interface NoteSignature {
  keyName: string;
  keyId: Buffer;
  signature: Buffer;
}

export interface ParsedNote {
  text: string;
  signatures: NoteSignature[];
}

/** The 32 raw bytes of an Ed25519 public key. */
export function rawEd25519(publicKey: KeyObject): Buffer {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return der.subarray(der.length - 32);
}

export function ed25519FromRaw(raw: Buffer): KeyObject {
  return createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]),
    format: 'der',
    type: 'spki',
  });
}

export function noteKeyId(keyName: string, rawPublicKey: Buffer): Buffer {
  return createHash('sha256')
    .update(keyName, 'utf8')
    .update(Buffer.of(0x0a, ED25519_TYPE))
    .update(rawPublicKey)
    .digest()
    .subarray(0, 4);
}

/** The verifier key string: `<name>+<hex key id>+<base64(0x01 ‖ public key)>`. */
export function verifierKey(keyName: string, rawPublicKey: Buffer): string {
  return `${keyName}+${noteKeyId(keyName, rawPublicKey).toString('hex')}+${Buffer.concat([
    Buffer.of(ED25519_TYPE),
    rawPublicKey,
  ]).toString('base64')}`;
}

export function parseVerifierKey(
  vkey: string,
): { keyName: string; keyId: Buffer; rawPublicKey: Buffer } | undefined {
  // the key name has no '+'; the base64 key may
  const match = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+={0,2})$/.exec(vkey.trim());
  if (!match || !validKeyName(match[1])) return undefined;
  const parts = match.slice(1);
  const key = Buffer.from(parts[2], 'base64');
  if (key.length !== 33 || key[0] !== ED25519_TYPE) return undefined;
  const rawPublicKey = key.subarray(1);
  const keyId = noteKeyId(parts[0], rawPublicKey);
  if (keyId.toString('hex') !== parts[1]) return undefined;
  return { keyName: parts[0], keyId, rawPublicKey };
}

export function validKeyName(name: string): boolean {
  return name.length > 0 && name.length <= 256 && !/[\s+]/u.test(name) && !hasControl(name);
}

export function signNote(text: string, keyName: string, privateKey: KeyObject): string {
  return noteSigner(privateKey)(text, keyName);
}

/**
 * `signNote` with one private key, its public key and each key name's key id worked out once
 * (not on every note): the same notes, byte for byte (Ed25519 signatures are deterministic).
 */
export function noteSigner(privateKey: KeyObject): (text: string, keyName: string) => string {
  const raw = rawEd25519(createPublicKey(privateKey));
  const keyIds = new Map<string, Buffer>();
  return (text, keyName) => {
    if (!text.endsWith('\n') || text.includes('\n\n') || hasControl(text.replace(/\n/g, ''))) {
      throw new Error(
        'note text must end in one newline, without blank lines or control characters',
      );
    }
    let keyId = keyIds.get(keyName);
    if (!keyId) {
      keyId = noteKeyId(keyName, raw);
      keyIds.set(keyName, keyId);
    }
    const signature = sign(null, Buffer.from(text, 'utf8'), privateKey);
    const blob = Buffer.concat([keyId, signature]).toString('base64');
    return `${text}\n${EM_DASH_PREFIX}${keyName} ${blob}\n`;
  };
}

/** Splits a note into its text and signature lines; undefined when it is not well formed. */
export function parseNote(note: string): ParsedNote | undefined {
  if (Buffer.byteLength(note, 'utf8') > MAX_NOTE_BYTES || !note.endsWith('\n')) return undefined;
  if (hasControl(note.replace(/\n/g, ''))) return undefined;
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return undefined;
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split('\n');
  const signatures: NoteSignature[] = [];
  for (const line of lines) {
    if (!line.startsWith(EM_DASH_PREFIX)) return undefined;
    const [keyName, blob, ...rest] = line.slice(EM_DASH_PREFIX.length).split(' ');
    if (rest.length > 0 || !keyName || !blob || !validKeyName(keyName)) return undefined;
    const bytes = Buffer.from(blob, 'base64');
    if (bytes.length < 5 || bytes.toString('base64') !== blob) return undefined;
    signatures.push({ keyName, keyId: bytes.subarray(0, 4), signature: bytes.subarray(4) });
  }
  return signatures.length > 0 ? { text, signatures } : undefined;
}

/** True when one signature line is by (keyName, key) and verifies over the text. */
export function noteSignedBy(parsed: ParsedNote, keyName: string, rawPublicKey: Buffer): boolean {
  const { keyId, key } = verifyingKey(keyName, rawPublicKey);
  const line = parsed.signatures.find((s) => s.keyName === keyName && s.keyId.equals(keyId));
  if (!line || line.signature.length !== 64) return false;
  return verify(null, Buffer.from(parsed.text, 'utf8'), key, line.signature);
}

/**
 * A (key name, public key)'s key id and key object, made once: every checkpoint the vault audit
 * watch walks (one per access under sequential reads) checked its signature with a public key
 * parsed again from DER and a key id hashed again, ~17% of the main thread's CPU in a run of
 * small reads (docs/benchmarks.md, vaultperf 2026-12-07). Both are functions of the two values
 * alone, so the signature's check is the same; the few keys of a server's key history
 * (`LogKeyService.all`) and origins fit, and the cache starts over past VERIFYING_KEYS.
 */
const verifyingKeys = new Map<string, { keyId: Buffer; key: KeyObject }>();
const VERIFYING_KEYS = 256;

function verifyingKey(keyName: string, rawPublicKey: Buffer): { keyId: Buffer; key: KeyObject } {
  const name = `${rawPublicKey.toString('hex')} ${keyName}`;
  let found = verifyingKeys.get(name);
  if (!found) {
    if (verifyingKeys.size >= VERIFYING_KEYS) verifyingKeys.clear();
    found = {
      keyId: noteKeyId(keyName, rawPublicKey),
      key: ed25519FromRaw(rawPublicKey),
    };
    verifyingKeys.set(name, found);
  }
  return found;
}

function hasControl(text: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(text);
}
