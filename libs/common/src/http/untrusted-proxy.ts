import { NextFunction, Request, RequestHandler, Response } from 'express';

/** Express's compiled `trust proxy`: whether the peer `address`, `hop` hops away, is trusted. */
export type TrustProxyFn = (address: string, hop: number) => boolean;

/**
 * Warns once per process, at the first request that carries X-Forwarded-For from a peer that
 * `TRUST_PROXY` does not trust. Either a proxy in front is not trusted (every client then shares
 * the proxy's address: per-IP rate limits, vault audit, trust score), or a client is trying to
 * choose its address (ignored, as it should be). Either way the operator should look once; the
 * per-request cost after the warning is one boolean.
 */
export function untrustedForwardingWarning(
  trusts: () => TrustProxyFn,
  warn: (message: string) => void,
): RequestHandler {
  let warned = false;
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (!warned && req.headers['x-forwarded-for'] !== undefined) {
      const peer = req.socket.remoteAddress ?? '';
      if (!trusts()(peer, 0)) {
        warned = true;
        warn(
          `a request from ${peer} carried X-Forwarded-For, which TRUST_PROXY does not let it set: ` +
            'its socket address is used. If that peer is your proxy, set TRUST_PROXY to its ' +
            'address or subnet (or the hop count); otherwise a client tried to choose its ' +
            'address. Logged once.',
        );
      }
    }
    next();
  };
}
