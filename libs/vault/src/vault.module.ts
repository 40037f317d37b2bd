import { Module } from '@nestjs/common';
import { bindPort } from '@app/persistence';
import { PartialUploadSweeper } from './infrastructure/blob/partial-upload.sweeper';
import { TlogModule } from '@app/tlog';
import { VaultBlobStorage } from './infrastructure/blob/vault-blob.storage';
import { VaultAuditRepository } from './infrastructure/persistence/vault-audit.repository';
import { VaultFileRepository } from './infrastructure/persistence/vault-file.repository';
import {
  vaultAuditAdapters,
  vaultFileAdapters,
} from './infrastructure/persistence/vault-persistence';
import { KeyHoldersService } from './keyring/key-holders.service';
import { KeyringService } from './keyring/keyring.service';
import { VaultAuditService } from './vault-audit.service';
import { VaultAuditWatch } from './vault-audit.watch';
import { VaultController } from './vault.controller';
import { VaultRetentionScheduler } from './vault-retention.scheduler';
import { VaultMetrics } from './vault.metrics';
import { VaultService } from './vault.service';

/**
 * The Vault: owner of the master keyring (KeyringService, used by other modules to seal
 * small secrets) and of encrypted biometric storage with audited access (VaultService).
 */
@Module({
  imports: [TlogModule],
  controllers: [VaultController],
  providers: [
    KeyringService,
    KeyHoldersService,
    bindPort(VaultFileRepository, vaultFileAdapters),
    bindPort(VaultAuditRepository, vaultAuditAdapters),
    VaultBlobStorage,
    PartialUploadSweeper,
    VaultAuditService,
    VaultAuditWatch,
    VaultService,
    VaultMetrics,
    VaultRetentionScheduler,
  ],
  exports: [KeyringService, KeyHoldersService, VaultService],
})
export class VaultModule {}
