import QRCode from 'qrcode';

/** A QR as a PNG data URL, drawn in the page (no network, allowed by img-src data:). */
export function qrDataUrl(text: string): Promise<string> {
  return QRCode.toDataURL(text, { errorCorrectionLevel: 'M', margin: 4, scale: 8 });
}
