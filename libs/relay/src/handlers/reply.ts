import { CLOSE_CODES, OutboundFrame, RelayErrorCode } from '../protocol/messages';
import type { RelayedData } from '../protocol/parse-frame';

/** The frames a relayed frame's data goes to the peer in (ASCII names, written as they are). */
export type RelayedType = 'from_mobile' | 'from_device' | 'from_hardware';

/**
 * A frame to the peer already written as text: exactly what `JSON.stringify` of the frame it
 * stands for writes (a relayed frame recognised unparsed, parse-frame.ts `relayedData`).
 */
export class SerializedFrame {
  constructor(
    readonly text: string,
    /** True only when every character of `text` is known to be ASCII (the kiosk gate's test). */
    readonly ascii = false,
  ) {}

  /** `{"type":<type>,"data":<data>}`: ASCII when the data's text is. */
  static relayed(type: RelayedType, data: RelayedData): SerializedFrame {
    return new SerializedFrame(`{"type":"${type}","data":${data.text}}`, data.ascii);
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

/** The close code that goes with an error code, for errors that end the socket. */
export const CLOSE_FOR: Partial<Record<RelayErrorCode, number>> = {
  not_authenticated: CLOSE_CODES.notAuthenticated,
  wrong_token_type: CLOSE_CODES.forbidden,
  session_not_found: CLOSE_CODES.notFound,
  session_expired: CLOSE_CODES.expired,
  session_closed: CLOSE_CODES.conflict,
  already_connected: CLOSE_CODES.conflict,
  session_mismatch: CLOSE_CODES.notAuthenticated,
  invalid_signature: CLOSE_CODES.notAuthenticated,
  device_not_registered: CLOSE_CODES.forbidden,
  device_blocked: CLOSE_CODES.forbidden,
  auth_timeout: CLOSE_CODES.notAuthenticated,
  bus_unavailable: CLOSE_CODES.tryAgainLater,
};

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
