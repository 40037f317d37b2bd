import { hmacSha256, safeEqual } from '@app/common/crypto/hashing';
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
  const key = Buffer.from(secret.buffer, secret.byteOffset, secret.byteLength);
  return packets.map((packet): PacketCheck => {
    const shape = checkPacketShape(packet);
    if (!shape.ok) return { ok: false, detail: shape.detail };
    const { payloadJcs, dataJcs } = checkedPacketJcs(shape.payload, packet.signature);
    const expected = hmacSha256(key, payloadJcs);
    return {
      ok: true,
      atMs: shape.at.getTime(),
      signatureValid: safeEqual(expected, Buffer.from(packet.signature, 'hex')),
      dataJcs,
    };
  });
}
