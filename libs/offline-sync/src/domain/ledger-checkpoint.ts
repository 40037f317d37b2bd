import { jcs } from '@app/common';

export const CHECKPOINT_TYPE = 'mdai.ledger-checkpoint';

/**
 * A signed statement "the chain of this site had this head at this seq". Kept apart from the
 * chain, signed with the ES256 key in the JWKS, so rewriting the whole chain (recomputing
 * every hash) no longer matches the checkpoints.
 */
export interface LedgerCheckpoint {
  siteId: string;
  seq: number;
  headHash: string;
  signedAt: string;
  kid: string;
  alg: 'ES256';
  /** base64url ES256 (r‖s) over checkpointSigningInput(). */
  signature: string;
}

export function checkpointSigningInput(
  c: Pick<LedgerCheckpoint, 'siteId' | 'seq' | 'headHash' | 'signedAt' | 'kid'>,
): string {
  return jcs({
    type: CHECKPOINT_TYPE,
    siteId: c.siteId,
    seq: c.seq,
    headHash: c.headHash,
    signedAt: c.signedAt,
    kid: c.kid,
  });
}
