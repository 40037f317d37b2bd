import { ChainVerifier as LogChainVerifier } from '@app/tlog';
import {
  AttendanceLog,
  computeRecordHash,
  recordHashOfText,
  StoredLinkText,
} from './attendance-log';

/** The shared chain verifier with the ledger's recordHash formula, for one site's chain. */
export class ChainVerifier extends LogChainVerifier<AttendanceLog> {
  constructor(siteId: string) {
    super(computeRecordHash, (log) => log.siteId === siteId);
  }
}

/** The same check over stored texts: each link's hashed text rebuilt from its JCS columns. */
export class StoredChainVerifier extends LogChainVerifier<StoredLinkText> {
  constructor(siteId: string) {
    super(recordHashOfText, (link) => link.siteId === siteId);
  }
}
