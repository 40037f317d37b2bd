export const ROLES = ['admin', 'provisioner', 'auditor', 'mobile', 'hardware'] as const;
export type Role = (typeof ROLES)[number];

/** Who made a request: the roles its API key holds and a stable, non-secret key id. */
export interface Principal {
  roles: Role[];
  /** First 12 hex chars of SHA-256 of the key: safe to log and to record in audits. */
  keyId: string;
}
