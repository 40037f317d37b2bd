import { isUtf8 } from 'node:buffer';
import { CLOSE_CODES, CLOSE_FOR, OutboundFrame, RelayErrorCode } from '../protocol/messages';
import { RELAYED_ROUTES, RelayedData, RelayedType } from '../protocol/parse-frame';

/** The head of each relayed frame to the peer, `{"type":"<type>","data":`, as text and UTF-8. */
const RELAYED_HEADS = Object.fromEntries(
  RELAYED_ROUTES.map(({ to }) => {
    const text = `{"type":"${to}","data":`;
    return [to, { text, bytes: Buffer.from(text) }];
  }),
) as Record<RelayedType, { text: string; bytes: Buffer }>;

/**
 * A frame to the peer already written as text: exactly what `JSON.stringify` of the frame it
 * stands for writes (a relayed frame recognised unparsed, parse-frame.ts `relayedData`). Made
 * by `relayed` only, so what it says of its text (`ascii`) comes from the scan of that text.
 */
export class SerializedFrame {
  private constructor(
    readonly text: string,
    /** True only when every character of `text` is known to be ASCII (the kiosk gate's test). */
    readonly ascii: boolean,
    /** The bytes of `text` before its data (`wire`). */
    private readonly head: Buffer,
    /** Its data, with the bytes it came in (`wire`). */
    private readonly data: RelayedData,
  ) {}

  /** `{"type":<data.type>,"data":<data>}`: ASCII when the data's text is. */
  static relayed(data: RelayedData): SerializedFrame {
    const head = RELAYED_HEADS[data.type];
    return new SerializedFrame(`${head.text}${data.text}}`, data.ascii, head.bytes, data);
  }

  /**
   * The UTF-8 of `text`, built from the bytes the relayed frame came in instead of encoding the
   * text: the head's bytes, then the received frame's from its data on (the data and the closing
   * brace). Those are the UTF-8 of the rest of `text` when they are ASCII or valid UTF-8 (invalid
   * bytes were decoded to U+FFFD); otherwise, or without received bytes, undefined.
   */
  wire(): Buffer | undefined {
    const { head, data } = this;
    if (data.received === undefined) return undefined;
    const received = data.received;
    const shift = head.length - data.start;
    // a head shorter than the received one would need a slice (no relayed type has one)
    if (shift < 0 || !(data.ascii || isUtf8(received))) return undefined;
    // the received frame one shift to the right, then its own head overwritten by ours
    const out = Buffer.allocUnsafe(shift + received.length);
    out.set(received, shift);
    out.set(head, 0);
    return out;
  }
}

/** A frame for the session's other socket, as an object or already serialized. */
export type PeerFrame = OutboundFrame | SerializedFrame;

export interface CloseSpec {
  code: number;
  reason: string;
}

/**
 * What a protocol handler decides for one frame; the hub carries it out (gate, delivery across
 * instances, closing). Handlers never touch a socket, so they are tested without one.
 */
export interface Reply {
  /** Frames to the socket that sent the frame, in order. */
  frames: OutboundFrame[];
  /** Frames to the session's other socket (wherever it is). */
  toPeer?: PeerFrame[];
  /** Close the sender after its frames. */
  close?: CloseSpec;
  /** Close the peer after its frames. */
  closePeer?: CloseSpec;
  /** Kiosk auth passed: take the session's slot now. */
  join?: boolean;
}

/** The close code that goes with an error code, for errors that end the socket (codes.ts). */
export { CLOSE_FOR } from '../protocol/codes';

/**
 * The peer's frames and nothing for the sender. Written as a literal: the spread it replaces
 * (`{ ...NOTHING, toPeer }`) made V8 build a new hidden class for every Reply, so every read of a
 * Reply's fields on the relay's hot path missed its inline cache (half the relay's CPU per frame).
 */
export function toPeerReply(frames: PeerFrame[]): Reply {
  return { frames: [], toPeer: frames };
}

/** An `error` frame to the sender; `closes` ends the socket with the code's close code. */
export function errorReply(code: RelayErrorCode, message: string, closes = false): Reply {
  const reply: Reply = { frames: [{ type: 'error', code, message }] };
  if (closes) reply.close = { code: CLOSE_FOR[code] ?? CLOSE_CODES.forbidden, reason: code };
  return reply;
}
