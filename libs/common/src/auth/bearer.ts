/**
 * The token of an `Authorization: Bearer <token>` header, or undefined. The scheme is matched
 * in any case and may be followed by more than one space (RFC 7235 §2.1: auth-scheme is
 * case-insensitive, `1*SP` before the credentials); the token is RFC 6750's b64token.
 */
export function bearerToken(authorization: string | undefined): string | undefined {
  return BEARER.exec(authorization ?? '')?.[1];
}

const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
