import { CodeOf, DomainError } from '@app/common';

/** What kiosk registration and key rotation refuse with. */
export const KIOSK_REGISTRY_ERRORS = {
  module: 'kiosk-registry',
  codes: {
    invalid_public_key:
      'public_key is not one readable SPKI PEM public key, or is an RSA key over the size limit',
    unsupported_key_type: 'public_key is not an RSA key',
    weak_public_key: 'the RSA key is too short or its public exponent is not 65537',
    device_key_conflict:
      'the device_id is registered with another key; key rotation is an explicit admin action',
    same_key: 'the new key is the key already registered',
    public_key_in_use:
      'the public key is registered to another device_id (one TrustZone key speaks for one kiosk)',
    device_not_found: 'no kiosk is registered with this device_id',
    device_blocked: 'the kiosk is blocked',
    kiosk_tampered:
      "the kiosk's stored key or status does not verify (changed outside the server): rotate its key to the kiosk's genuine one first (it stays blocked), then unblock it",
    kiosk_mark_unverified:
      "the kiosk events' stored mark does not verify under a store-MAC key this server holds (a replica on a key this one does not hold yet, or the mark changed outside the server): no kiosk change is written until an operator acts (see the server's ALARM)",
  },
} as const;

export type KioskRegistryErrorCode = CodeOf<typeof KIOSK_REGISTRY_ERRORS>;

export class KioskRegistryError extends DomainError<KioskRegistryErrorCode> {
  readonly module = KIOSK_REGISTRY_ERRORS.module;
}
