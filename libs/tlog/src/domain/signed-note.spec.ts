import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { checkpointText, parseCheckpointText } from './checkpoint';
import {
  noteKeyId,
  noteSigner,
  noteSignedBy,
  parseNote,
  parseVerifierKey,
  rawEd25519,
  signNote,
  verifierKey,
} from './signed-note';

/** An independent reading of a C2SP signed note and checkpoint, from the specs' prose. */
function independentParse(note: string) {
  const bytes = Buffer.from(note, 'utf8');
  const sep = bytes.lastIndexOf(Buffer.from('\n\n'));
  const text = bytes.subarray(0, sep + 1);
  const sigLines = bytes
    .subarray(sep + 2)
    .toString('utf8')
    .split('\n')
    .filter(Boolean);
  const sigs = sigLines.map((line) => {
    expect(Buffer.from(line, 'utf8').subarray(0, 4)).toEqual(Buffer.from([0xe2, 0x80, 0x94, 0x20]));
    const [name, b64] = line.slice(2).split(' ');
    const blob = Buffer.from(b64, 'base64');
    return { name, keyHash: blob.subarray(0, 4), sig: blob.subarray(4) };
  });
  const [origin, size, root, ...rest] = text.toString('utf8').split('\n');
  return { text, origin, size: Number(size), root: Buffer.from(root, 'base64'), rest, sigs };
}

describe('C2SP signed note and tlog-checkpoint', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = rawEd25519(publicKey);
  const origin = 'mdai.local/ledger/665f1c2e8b3e4a0012345678';
  const rootHash = createHash('sha256').update('root').digest();

  it('should write a checkpoint note an independent parser reads and verifies', () => {
    const note = signNote(checkpointText({ origin, size: 350, rootHash }), origin, privateKey);
    const p = independentParse(note);
    expect(p.origin).toBe(origin);
    expect(p.size).toBe(350);
    expect(p.root).toEqual(rootHash);
    expect(p.rest).toEqual(['']);
    expect(p.sigs).toHaveLength(1);
    expect(p.sigs[0].name).toBe(origin);
    const keyHash = createHash('sha256')
      .update(Buffer.concat([Buffer.from(origin), Buffer.from([0x0a, 0x01]), raw]))
      .digest()
      .subarray(0, 4);
    expect(p.sigs[0].keyHash).toEqual(keyHash);
    expect(verify(null, p.text, publicKey, p.sigs[0].sig)).toBe(true);
  });

  it('should parse its own notes, verify the signer and refuse edits and other keys', () => {
    const note = signNote(checkpointText({ origin, size: 7, rootHash }), origin, privateKey);
    const parsed = parseNote(note)!;
    expect(parseCheckpointText(parsed.text)).toEqual({ origin, size: 7, rootHash });
    expect(noteSignedBy(parsed, origin, raw)).toBe(true);
    const edited = parseNote(note.replace('\n7\n', '\n8\n'))!;
    expect(noteSignedBy(edited, origin, raw)).toBe(false);
    const other = rawEd25519(generateKeyPairSync('ed25519').publicKey);
    expect(noteSignedBy(parsed, origin, other)).toBe(false);
    expect(noteSignedBy(parsed, 'another.origin', raw)).toBe(false);
    expect(parseNote('no signature\n')).toBeUndefined();
    expect(parseNote(`${origin}\n7\nAAAA\n\n- wrong dash\n`)).toBeUndefined();
    expect(parseCheckpointText(`${origin}\n07\n${rootHash.toString('base64')}\n`)).toBeUndefined();
  });

  it('should sign the signing time as a timestamp extension line after the root, and read it back', () => {
    const at = Date.parse('2026-12-05T16:30:00.123Z');
    const text = checkpointText({ origin, size: 350, rootHash, timestamp: at });
    const b64 = rootHash.toString('base64');
    expect(text).toBe(`${origin}\n350\n${b64}\ntimestamp ${at}\n`);
    const note = signNote(text, origin, privateKey);
    // an independent reader sees the three mandatory lines, then the extension line
    const p = independentParse(note);
    expect([p.origin, p.size, p.root]).toEqual([origin, 350, rootHash]);
    expect(p.rest).toEqual([`timestamp ${at}`, '']);
    expect(verify(null, p.text, publicKey, p.sigs[0].sig)).toBe(true);
    const parsed = parseNote(note)!;
    expect(parseCheckpointText(parsed.text)).toEqual({
      origin,
      size: 350,
      rootHash,
      timestamp: at,
    });
    // the signature covers the time: another time does not verify
    const moved = parseNote(note.replace(`timestamp ${at}`, `timestamp ${at - 7_200_000}`))!;
    expect(noteSignedBy(moved, origin, raw)).toBe(false);
    // old checkpoints have no line; other extension lines are opaque and ignored
    expect(parseCheckpointText(`${origin}\n7\n${b64}\n`)).toEqual({ origin, size: 7, rootHash });
    expect(parseCheckpointText(`${origin}\n7\n${b64}\nother ext\ntimestamp 5\n`)).toEqual({
      origin,
      size: 7,
      rootHash,
      timestamp: 5,
    });
    // a time read two ways, or not a decimal Unix ms, is no checkpoint
    for (const ext of [
      'timestamp 1\ntimestamp 2',
      'timestamp 01',
      'timestamp -1',
      'timestamp',
      'timestamp 1.5',
      'timestamp 99999999999999999',
      // 16 digits, but later than any Date: 8.64e15 is the last instant one holds
      'timestamp 8640000000000001',
    ])
      expect(parseCheckpointText(`${origin}\n7\n${b64}\n${ext}\n`)).toBeUndefined();
    expect(parseCheckpointText(`${origin}\n7\n${b64}\ntimestamp 8640000000000000\n`)).toEqual({
      origin,
      size: 7,
      rootHash,
      timestamp: 8.64e15,
    });
    expect(() => checkpointText({ origin, size: 1, rootHash, timestamp: 1.5 })).toThrow();
  });

  it('should round-trip a verifier key and refuse one whose key id does not match', () => {
    const vkey = verifierKey(origin, raw);
    expect(parseVerifierKey(vkey)?.rawPublicKey).toEqual(raw);
    expect(parseVerifierKey(vkey.replace(/\+[0-9a-f]{8}\+/, '+00000000+'))).toBeUndefined();
    // a key whose base64 holds '+' still parses (the name never holds one)
    for (let i = 0; i < 20; i++) {
      const raw2 = rawEd25519(generateKeyPairSync('ed25519').publicKey);
      expect(parseVerifierKey(verifierKey(origin, raw2))?.rawPublicKey).toEqual(raw2);
    }
  });

  it('should sign with a reused signer exactly as the full path does, for any key name in any order', () => {
    // the full path, worked out again for every note: the public key from the private key,
    // the key id from it and the name, the signature over the text
    const fullPath = (text: string, keyName: string) => {
      const rawKey = rawEd25519(createPublicKey(privateKey));
      const blob = Buffer.concat([
        noteKeyId(keyName, rawKey),
        sign(null, Buffer.from(text, 'utf8'), privateKey),
      ]).toString('base64');
      return `${text}\n\u2014 ${keyName} ${blob}\n`;
    };
    const signer = noteSigner(privateKey);
    const names = [origin, 'mdai.local/ledger/site-b', 'mdai.local/vault', 'x'];
    for (let i = 0; i < 300; i++) {
      const keyName = names[(i * 7 + (i >> 3)) % names.length];
      const text = checkpointText({
        origin: keyName,
        size: 1 + ((i * 7919) % 100_000),
        rootHash: randomBytes(32),
      });
      const note = signer(text, keyName);
      expect(note).toBe(fullPath(text, keyName));
      expect(note).toBe(signNote(text, keyName, privateKey));
      expect(noteSignedBy(parseNote(note)!, keyName, raw)).toBe(true);
    }
    // another key: its own public key and key ids, not the first signer's
    const other = generateKeyPairSync('ed25519');
    const otherNote = noteSigner(other.privateKey)(
      checkpointText({ origin, size: 1, rootHash }),
      origin,
    );
    expect(noteSignedBy(parseNote(otherNote)!, origin, rawEd25519(other.publicKey))).toBe(true);
    expect(noteSignedBy(parseNote(otherNote)!, origin, raw)).toBe(false);
    expect(() => signer('no newline', origin)).toThrow(/end in one newline/);
    expect(() => signer('a\n\nb\n', origin)).toThrow(/blank lines/);
  });
});
