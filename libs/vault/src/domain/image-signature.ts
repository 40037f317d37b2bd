/**
 * The first bytes of the image types whose signature the vault checks against the declared
 * Content-Type before storing anything (`null`: any byte). Other image types and
 * application/octet-stream are stored as declared.
 */
const SIGNATURES: Readonly<Record<string, readonly (number | null)[]>> = {
  // SOI, then the first marker's 0xFF
  'image/jpeg': [0xff, 0xd8, 0xff],
  'image/png': [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
  // RIFF, the chunk's 4-byte length, WEBP
  'image/webp': [...ascii('RIFF'), null, null, null, null, ...ascii('WEBP')],
};

/** The longest signature's length: no more of a body's start is looked at. */
const LONGEST = Math.max(...Object.values(SIGNATURES).map((s) => s.length));

function ascii(text: string): number[] {
  return [...text].map((c) => c.charCodeAt(0));
}

/** A content type (normalized: lower case, no parameters) whose signature is checked. */
export function hasSignature(contentType: string): boolean {
  return SIGNATURES[contentType] !== undefined;
}

/**
 * Whether `head` (the first bytes, maybe fewer than the signature) can still start a body of
 * `contentType`: `match` once the whole signature is there, `mismatch` at the first byte that
 * differs, `more` while the bytes so far agree with a longer signature.
 */
export function signatureOf(contentType: string, head: Buffer): 'match' | 'mismatch' | 'more' {
  const signature = SIGNATURES[contentType];
  if (!signature) return 'match';
  const n = Math.min(signature.length, head.length);
  for (let i = 0; i < n; i++) {
    if (signature[i] !== null && head[i] !== signature[i]) return 'mismatch';
  }
  return head.length >= signature.length ? 'match' : 'more';
}

type Piece = Buffer | Uint8Array | string;

/**
 * Reads the first pieces of `source`, as few as the signature of `contentType` needs (a
 * body's first chunk holds it), and checks them: undefined when they are not of that type
 * (the body is left unread past them: the caller answers and closes the connection), else the
 * body whole again, those pieces first and then the rest of `source` as it streams.
 */
export async function checkedImage(
  source: AsyncIterable<Piece>,
  contentType: string,
): Promise<AsyncIterable<Piece> | undefined> {
  if (!hasSignature(contentType)) return source;
  const iterator = source[Symbol.asyncIterator]();
  const pulled: Piece[] = [];
  let head = Buffer.alloc(0);
  let ended = false;
  let verdict = signatureOf(contentType, head);
  while (verdict === 'more') {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    pulled.push(next.value);
    // the bytes the signature spans only (a first piece may be 64 KiB)
    head = Buffer.concat([head, bufferOf(next.value).subarray(0, LONGEST - head.length)]);
    verdict = signatureOf(contentType, head);
  }
  if (verdict !== 'match') return undefined;
  return replay(pulled, ended ? undefined : iterator);
}

/**
 * `source` whole again when it holds at least one byte (read up to its first non-empty piece),
 * undefined when it ends without one.
 */
export async function nonEmpty(
  source: AsyncIterable<Piece>,
): Promise<AsyncIterable<Piece> | undefined> {
  const iterator = source[Symbol.asyncIterator]();
  const pulled: Piece[] = [];
  for (;;) {
    const next = await iterator.next();
    if (next.done) return undefined;
    pulled.push(next.value);
    if (next.value.length > 0) return replay(pulled, iterator);
  }
}

/**
 * `pulled`, then the rest of `iterator`; a reader that stops early stops the source too. No
 * generator between: every piece of an upload's body passes here, and a generator's step (its
 * own promise, then the source's awaited) cost one promise more per piece than this.
 */
function replay(
  pulled: Piece[],
  iterator: AsyncIterator<Piece> | undefined,
): AsyncIterableIterator<Piece> {
  let given = 0;
  // over once the source has ended or thrown: nothing to stop then
  let over = iterator === undefined;
  const ended = (): IteratorResult<Piece> => ({ done: true, value: undefined });
  const replayed: AsyncIterableIterator<Piece> = {
    next: () => {
      if (given < pulled.length) return Promise.resolve({ done: false, value: pulled[given++] });
      if (over) return Promise.resolve(ended());
      return iterator!.next().then(
        (next) => {
          if (next.done) over = true;
          return next;
        },
        (error: unknown) => {
          over = true;
          throw error;
        },
      );
    },
    // as a `for await` over the source would: a reader that broke off stops it
    return: async () => {
      given = pulled.length;
      if (!over) {
        over = true;
        await iterator!.return?.();
      }
      return ended();
    },
    [Symbol.asyncIterator]: () => replayed,
  };
  return replayed;
}

function bufferOf(piece: Piece): Buffer {
  return typeof piece === 'string'
    ? Buffer.from(piece, 'utf8')
    : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
}
