import { Injectable, Optional } from '@nestjs/common';
import { Gauge, MetricsRegistry } from '@app/common';
import { VaultService } from './vault.service';

/**
 * The plaintext the vault's reads hold now, read on each scrape: it goes back to 0 when no read
 * is under way. A value that stays up with no reader means a read's bytes were never given back.
 */
@Injectable()
export class VaultMetrics {
  constructor(vault: VaultService, @Optional() registry?: MetricsRegistry) {
    if (!registry) return;
    new Gauge({
      name: 'mdai_vault_read_hold_bytes',
      help: 'Plaintext bytes held by vault reads served from their check (at most VAULT_READ_HOLD_BYTES)',
      registers: [registry],
      collect() {
        this.set(vault.heldBytes);
      },
    });
  }
}
