import { randomBytes } from 'node:crypto';

/**
 * Bodies for vault uploads: `size` bytes that start with the signature of the type they are
 * sent as (the vault checks JPEG, PNG and WebP signatures against the declared Content-Type),
 * the rest random (or `fill`), so each upload is a new file.
 */
export const SIGNATURES = {
  'image/jpeg': Buffer.from([0xff, 0xd8, 0xff, 0xe0]),
  'image/png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  // RIFF, a 4-byte little-endian length (not checked), WEBP
  'image/webp': Buffer.from('RIFF\x24\x00\x00\x00WEBP', 'latin1'),
} as const;

export type SignedImageType = keyof typeof SIGNATURES;

export function imageBytes(type: SignedImageType, size: number, fill?: number): Buffer {
  const signature = SIGNATURES[type];
  if (size < signature.length)
    throw new Error(`an ${type} body is at least ${signature.length} bytes`);
  const bytes = fill === undefined ? randomBytes(size) : Buffer.alloc(size, fill);
  signature.copy(bytes, 0);
  return bytes;
}

export function jpegBytes(size = 2048, fill?: number): Buffer {
  return imageBytes('image/jpeg', size, fill);
}

export function pngBytes(size = 2048, fill?: number): Buffer {
  return imageBytes('image/png', size, fill);
}
