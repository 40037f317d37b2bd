import { Module } from '@nestjs/common';
import { KeyringService } from './keyring/keyring.service';

/**
 * The Vault: owner of the master keyring (KeyringService, used by other modules to seal
 * small secrets) and of encrypted biometric storage with audited access.
 */
@Module({
  providers: [KeyringService],
  exports: [KeyringService],
})
export class VaultModule {}
