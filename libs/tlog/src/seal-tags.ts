import type { StoreMac, StoreMacPurpose } from './store-mac';
import type { UnauthenticatedReason } from './unauthenticated-entry';

/** A store MAC as a row keeps it beside its data (null or absent: the row has none). */
export interface StoredTag {
  mac?: string | null;
  kid?: string | null;
}

/**
 * Why a stored row's tag does not vouch for `data` under the active key (undefined: it does):
 * `untagged` (no MAC), `retired_key` (a MAC under another key id: tagged before a rotation),
 * `bad_tag` (a MAC under the active key id that does not verify). The check a seal makes of an
 * entry it did not append in hand before signing a checkpoint over it.
 */
export function storeTagFault(
  storeMac: Pick<StoreMac, 'kid' | 'verify'>,
  purpose: StoreMacPurpose,
  tag: StoredTag,
  data: string | Buffer,
): UnauthenticatedReason | undefined {
  if (!tag.mac) return 'untagged';
  if (tag.kid !== storeMac.kid) return 'retired_key';
  return storeMac.verify(purpose, data, tag.mac) ? undefined : 'bad_tag';
}
