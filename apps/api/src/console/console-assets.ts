import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';

export interface ConsoleAsset {
  body: Buffer;
  contentType: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json; charset=utf-8',
};

/** The console bundle stays small; anything bigger in the folder is not ours. */
const MAX_ASSET_BYTES = 8 * 1024 * 1024;
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/;

/**
 * The built console, read once at boot into memory: a flat folder of a few files. Serving from
 * a fixed map means no request path ever reaches the file system (no traversal, no probing).
 * An absent folder (console not built) gives an empty map; /console then says how to build it.
 */
export function loadConsoleAssets(dir: string): Map<string, ConsoleAsset> {
  const assets = new Map<string, ConsoleAsset>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return assets;
  }
  for (const name of names) {
    const contentType = CONTENT_TYPES[extname(name)];
    const path = join(dir, name);
    if (!contentType || !ASSET_NAME.test(name)) continue;
    const stats = statSync(path);
    if (!stats.isFile() || stats.size > MAX_ASSET_BYTES) continue;
    assets.set(name, { body: readFileSync(path), contentType });
  }
  return assets;
}

/**
 * Same-origin only, nothing inline, nothing from elsewhere. Images may be data: or blob: URLs
 * (QR codes are drawn in the page or fetched with the key and shown from a blob).
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
