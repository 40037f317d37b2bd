import { NextFunction, Request, Response } from 'express';

/**
 * Every answer under /api, and the legacy kiosk login /auth, says `Cache-Control: no-store`
 * unless its handler sets another value: these answers carry personal data (workers,
 * timesheets, the ledger, vault files) or secrets (tokens, a Wi-Fi password from the public
 * validate-challenge), and one rule for the whole prefix leaves no route to forget. Errors
 * and 404s under the prefix get it too. The console's assets (/console), /docs, /health and
 * /metrics are outside the prefix and keep their own headers.
 */
export function noStoreMiddleware(req: Request, res: Response, next: NextFunction): void {
  if (isPrivatePath(req.path)) res.setHeader('Cache-Control', 'no-store');
  next();
}

/** /api, /api/…, /auth, in any case (express matches routes without regard to case). */
const PRIVATE_PATH = /^\/(?:api(?:\/|$)|auth\/?$)/i;

function isPrivatePath(path: string): boolean {
  return PRIVATE_PATH.test(path);
}
