import { ApiPropertyOptional } from './openapi-decorators';
import { IsIn } from '../validation/validators';
import { IsOmittable } from '../validation/omittable';
import { Response } from 'express';

export const QR_FORMATS = ['png', 'svg'] as const;
export type QrFormat = (typeof QR_FORMATS)[number];

/** `?format=png|svg` of every endpoint that serves a QR image (PNG when absent). */
export class QrFormatQuery {
  @ApiPropertyOptional({ enum: QR_FORMATS, default: 'png' })
  @IsOmittable()
  @IsIn(QR_FORMATS)
  format?: QrFormat;
}

export interface QrRenderOptions {
  /** Quiet zone in modules (the qrcode default, 4, when absent). */
  margin?: number;
}

/** Renders `payload` as a QR image (error correction M; PNG at 6 pixels a module). */
export async function renderQr(
  payload: string,
  format: QrFormat = 'png',
  options: QrRenderOptions = {},
): Promise<Buffer | string> {
  // loaded on first use: the QR encoder is a noticeable part of startup otherwise
  const QRCode = (await import('qrcode')).default;
  return format === 'svg'
    ? QRCode.toString(payload, { type: 'svg', errorCorrectionLevel: 'M', ...options })
    : QRCode.toBuffer(payload, { type: 'png', errorCorrectionLevel: 'M', scale: 6, ...options });
}

/** Sends `payload` as a QR image that no cache keeps (it carries a token or a challenge). */
export async function sendQr(
  response: Response,
  payload: string,
  format: QrFormat = 'png',
  options: QrRenderOptions = {},
): Promise<void> {
  const image = await renderQr(payload, format, options);
  response.setHeader('Cache-Control', 'no-store');
  response.type(format === 'svg' ? 'image/svg+xml' : 'image/png').send(image);
}
