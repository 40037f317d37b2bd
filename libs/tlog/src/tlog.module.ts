import { Module } from '@nestjs/common';
import { SystemClock } from '@app/common';
import { bindPort } from '@app/persistence';
import { replicaRegistryAdapters } from './infrastructure/persistence/replicas/replica-registry-persistence';
import { ReplicaRegistryRepository } from './infrastructure/persistence/replicas/replica-registry.repository';
import { tlogAdapters } from './infrastructure/persistence/tlog-persistence';
import { TlogRepository } from './infrastructure/persistence/tlog.repository';
import { LOG_CLOCK } from './log-clock';
import { LogKeyService } from './log-key.service';
import { LogVerifierService } from './log-verifier.service';
import { TlogController } from './tlog.controller';
import { TransparencyLogService } from './transparency-log.service';
import { StoreMac } from './store-mac';
import { StoreMacReplicas } from './store-mac-replicas';
import { ReplicaRegistry } from './replica-registry';
import { TreeNodesCheck } from './tree-nodes-check';
import { SealRefusals } from './unauthenticated-entry';
import { WitnessLog } from './witness-log';
import { WitnessRecovery } from './witness-recovery';

/**
 * The shared append-only log component: Merkle trees, signed checkpoints, proofs, the
 * witness file and the log key. The ledger (one log per site) and the vault audit log use it.
 */
@Module({
  controllers: [TlogController],
  providers: [
    bindPort(TlogRepository, tlogAdapters),
    { provide: LOG_CLOCK, useClass: SystemClock },
    LogKeyService,
    WitnessLog,
    TransparencyLogService,
    LogVerifierService,
    WitnessRecovery,
    StoreMac,
    bindPort(ReplicaRegistryRepository, replicaRegistryAdapters),
    ReplicaRegistry,
    StoreMacReplicas,
    SealRefusals,
    TreeNodesCheck,
  ],
  exports: [
    TransparencyLogService,
    LogVerifierService,
    LogKeyService,
    StoreMac,
    ReplicaRegistry,
    StoreMacReplicas,
    WitnessRecovery,
    SealRefusals,
    TreeNodesCheck,
  ],
})
export class TlogModule {}
