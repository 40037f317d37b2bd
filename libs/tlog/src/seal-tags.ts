import type { StoreMac, StoreMacPurpose } from './store-mac';
import type { UnauthenticatedReason } from './unauthenticated-entry';

/** A store MAC as a row keeps it beside its data (null or absent: the row has none). */
export interface StoredTag {
  mac?: string | null;
  kid?: string | null;
}

/**
 * Why a stored row's tag does not vouch for `data` (undefined: it does): `untagged` (no MAC),
 * `retired_key` (a MAC under a key id this server does not hold: the current store-MAC key,
 * one of STORE_MAC_RETIRED_KEYS or the one derived from the signing key), `bad_tag` (a MAC
 * under a key it holds that does not verify). The check a seal makes of an entry it did not
 * append in hand before signing a checkpoint over it.
 */
export function storeTagFault(
  storeMac: Pick<StoreMac, 'knows' | 'verify'>,
  purpose: StoreMacPurpose,
  tag: StoredTag,
  data: string | Buffer,
): UnauthenticatedReason | undefined {
  if (!tag.mac) return 'untagged';
  if (!storeMac.knows(tag.kid)) return 'retired_key';
  return storeMac.verify(purpose, data, tag.mac, tag.kid!) ? undefined : 'bad_tag';
}
