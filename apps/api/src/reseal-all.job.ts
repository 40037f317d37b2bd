import { Injectable, Logger } from '@nestjs/common';
import { WorkerDeviceService } from '@app/device-trust';
import { ProvisioningService } from '@app/provisioning';
import { SessionService } from '@app/session';
import { KeyringService, ResealReport, VaultService } from '@app/vault';

export interface ResealAllReport {
  activeVersion: string;
  owners: ResealReport[];
  /** Keyring versions nothing is sealed under any more: safe to drop from VAULT_KEYS. */
  droppable: string[];
}

/**
 * "Reseal everything": re-wraps every sealed value of every module under the active master
 * key (vault data keys, worker-device secrets, Wi-Fi passwords, session platform ids). When
 * nothing failed, every other key version can be dropped from VAULT_KEYS. Composed here, in
 * the app, because it is the one place that knows every module.
 */
@Injectable()
export class ResealAllJob {
  private readonly logger = new Logger(ResealAllJob.name);

  constructor(
    private readonly keyring: KeyringService,
    private readonly vault: VaultService,
    private readonly devices: WorkerDeviceService,
    private readonly provisioning: ProvisioningService,
    private readonly sessions: SessionService,
  ) {}

  async run(): Promise<ResealAllReport> {
    const rotation = await this.vault.rotateKeys();
    const owners: ResealReport[] = [
      { owner: 'vault data keys', resealed: rotation.rewrapped, failed: rotation.failed },
      await this.devices.resealSecrets(),
      await this.provisioning.resealPasswords(),
      await this.sessions.resealPlatformIds(),
    ];
    // what GET /api/v5/vault/keys calls droppable: versions nothing is sealed under any more
    const droppable = (await this.vault.keyUsage()).droppable;
    this.logger.log(
      {
        activeVersion: this.keyring.activeVersion,
        resealed: Object.fromEntries(owners.map((o) => [o.owner, o.resealed])),
        failed: owners.reduce((n, o) => n + o.failed.length, 0),
      },
      'Reseal-all finished',
    );
    return { activeVersion: this.keyring.activeVersion, owners, droppable };
  }
}
