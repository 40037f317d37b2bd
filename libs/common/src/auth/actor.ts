import { Principal } from './role';

/** How a key holder is named in audit trails and events: `<first role>:<keyId>`. */
export function actorOf(principal: Principal): string {
  return `${principal.roles[0] ?? 'unknown'}:${principal.keyId}`;
}
