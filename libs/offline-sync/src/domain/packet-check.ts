import { HmacSha256Key } from '@app/common/crypto/hmac-sha256-key';
import { checkedPacketJcs, checkPacketShape, SignedPacket } from './attendance-packet';

/**
 * What can be decided about a packet from the packet and the device secret alone: its shape
 * and its HMAC. `signatureValid` is the HMAC-SHA256 of JCS(payload) under the device secret
 * against the packet's signature (constant time); `dataJcs` is JCS of the stored packet
 * (`{...payload, signature}`), written with the text the HMAC was checked over
 * (`checkedPacketJcs`).
 */
export type PacketCheck =
  | { ok: false; detail: string }
  | { ok: true; atMs: number; signatureValid: boolean; dataJcs: string };

/**
 * The per-packet work that needs no store and no clock, in batch order: pure and
 * deterministic, so a worker thread (`packet-check.worker.ts`) and the caller's thread give
 * the same answers. Which of them decides first (device, worker, site, time windows) stays
 * with the caller, in its order.
 */
export function checkPackets(packets: readonly SignedPacket[], secret: Uint8Array): PacketCheck[] {
  // the key's pads set up once for the whole batch, not once a packet (as createHmac would)
  const hmac = new HmacSha256Key(Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength));
  return packets.map((packet): PacketCheck => {
    const shape = checkPacketShape(packet);
    if (!shape.ok) return { ok: false, detail: shape.detail };
    const { payloadJcs, dataJcs } = checkedPacketJcs(shape.payload, packet.signature);
    return {
      ok: true,
      atMs: shape.at.getTime(),
      signatureValid: hmac.matchesHex(payloadJcs, packet.signature),
      dataJcs,
    };
  });
}

/**
 * `PacketCheck`s as a worker thread sends them back: three flat values instead of one object
 * per packet, which the structured clone copies member by member (a reply of 250 checks cost
 * the receiving thread about twice as much as objects). `unpackChecks` gives the same checks.
 */
export interface PacketCheckReply {
  /** Per packet: 0 refused by its shape, 1 a valid signature, 2 a signature that does not verify. */
  kinds: Uint8Array;
  /** Per packet: its timestamp in ms (0 for a refused shape). */
  atMs: Float64Array;
  /**
   * Per packet, in order, each followed by a newline: its `dataJcs` (a JSON text, which holds
   * no raw control character) or the shape check's detail (a fixed sentence of ours).
   */
  texts: string;
}

export function packChecks(checks: readonly PacketCheck[]): PacketCheckReply {
  const kinds = new Uint8Array(checks.length);
  const atMs = new Float64Array(checks.length);
  let texts = '';
  for (let i = 0; i < checks.length; i++) {
    const check = checks[i];
    const text = check.ok ? check.dataJcs : check.detail;
    // never met: neither a JSON text nor our details hold a newline; refused, not misread
    if (text.includes('\n')) throw new Error('a packet check text holds a newline');
    if (check.ok) {
      kinds[i] = check.signatureValid ? 1 : 2;
      atMs[i] = check.atMs;
    }
    texts += `${text}\n`;
  }
  return { kinds, atMs, texts };
}

/** The checks `packChecks` packed, as `checkPackets` made them (same members, same order). */
export function unpackChecks(reply: PacketCheckReply): PacketCheck[] {
  const checks: PacketCheck[] = new Array<PacketCheck>(reply.kinds.length);
  let at = 0;
  for (let i = 0; i < checks.length; i++) {
    const end = reply.texts.indexOf('\n', at);
    if (end < 0) throw new Error('a packet check reply does not add up');
    const text = reply.texts.slice(at, end);
    at = end + 1;
    const kind = reply.kinds[i];
    checks[i] =
      kind === 0
        ? { ok: false, detail: text }
        : { ok: true, atMs: reply.atMs[i], signatureValid: kind === 1, dataJcs: text };
  }
  if (at !== reply.texts.length) throw new Error('a packet check reply does not add up');
  return checks;
}
