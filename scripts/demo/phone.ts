import { createHmac } from 'node:crypto';

/** RFC 8785 for the flat values a packet carries, written here as a phone app would. */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(record[k])}`)
    .join(',')}}`;
}

/** What a worker phone does offline: hex HMAC-SHA256 with its device secret over the JCS of the payload. */
export function signPacket(secret: Buffer, payload: unknown): string {
  return createHmac('sha256', secret).update(canonical(payload)).digest('hex');
}
