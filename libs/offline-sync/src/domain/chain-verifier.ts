import { ChainVerifier as LogChainVerifier } from '@app/tlog';
import { AttendanceLog, computeRecordHash } from './attendance-log';

/** The shared chain verifier with the ledger's recordHash formula, for one site's chain. */
export class ChainVerifier extends LogChainVerifier<AttendanceLog> {
  constructor(siteId: string) {
    super(computeRecordHash, (log) => log.siteId === siteId);
  }
}
