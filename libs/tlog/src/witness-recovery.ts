import { Injectable, Logger, OnApplicationBootstrap, Optional } from '@nestjs/common';
import { Gauge, MetricsRegistry } from '@app/common';
import { TlogRepository } from './infrastructure/persistence/tlog.repository';
import { LogVerifierService } from './log-verifier.service';
import { TransparencyLogService } from './transparency-log.service';
import { WitnessLine, WitnessLog } from './witness-log';

/** How far back in the witness file a crash can have left a checkpoint the store lacks. */
const TAIL_BYTES = 64 * 1024;
/** Stored checkpoints read per log in one call; past it, each witnessed size is asked for. */
const STORED_PAGE = 1024;

/**
 * A seal writes its checkpoint to the witness file first, then to the store (so a checkpoint
 * in the store is always witnessed). A crash between the two leaves a signed, published
 * checkpoint that the store does not have, and every later verify would call it missing. At
 * start-up, before any request, each such checkpoint among the file's last lines is put back
 * into the store when its signature holds and its root is the root of the stored tree at its
 * size: the checkpoint of entries that were committed before it was signed. One that fails
 * either check is left out, and verify still reports it (a witness line the store cannot
 * explain is evidence, never something to repair).
 */
@Injectable()
export class WitnessRecovery implements OnApplicationBootstrap {
  private readonly logger = new Logger(WitnessRecovery.name);
  /** Logs whose store is behind the witness file, as found at start-up (log_rolled_back). */
  private readonly behind = new Map<string, { witnessedSize: number; storedSize: number }>();

  constructor(
    private readonly witness: WitnessLog,
    private readonly store: TlogRepository,
    private readonly tlog: TransparencyLogService,
    private readonly verifier: LogVerifierService,
    @Optional() metrics?: MetricsRegistry,
  ) {
    const behind = this.behind;
    new Gauge({
      name: 'mdai_tlog_logs_rolled_back',
      help: 'Logs whose stored checkpoints end before the witness file does (a store rolled back to an older copy), as found at start-up',
      registers: metrics ? [metrics] : [],
      collect() {
        this.set(behind.size);
      },
    });
  }

  /** The logs found behind the witness file at start-up: for /health (`log_rolled_back`). */
  rolledBack(): { origin: string; witnessedSize: number; storedSize: number }[] {
    return [...this.behind].map(([origin, sizes]) => ({ origin, ...sizes }));
  }

  async onApplicationBootstrap(): Promise<void> {
    try {
      const restored = await this.restore();
      if (restored > 0)
        this.logger.warn(
          { restored },
          'Restored witnessed checkpoints the store lacked (a crash between the witness file and the store)',
        );
    } catch (error) {
      // the store or the file is unavailable: the server still starts, /health tells
      this.logger.error(
        { err: error },
        'Witnessed checkpoints could not be compared with the store',
      );
    }
  }

  /** Puts back the witnessed checkpoints the store lacks and can prove; returns how many. */
  async restore(): Promise<number> {
    const byOrigin = new Map<string, WitnessLine[]>();
    for (const line of await this.witness.tail(TAIL_BYTES)) {
      if (typeof line.origin !== 'string' || !Number.isSafeInteger(line.size) || line.size < 1)
        continue;
      const lines = byOrigin.get(line.origin) ?? [];
      lines.push(line);
      byOrigin.set(line.origin, lines);
    }
    let restored = 0;
    for (const [origin, lines] of byOrigin) {
      // one read per log: the stored checkpoints from the smallest witnessed size on
      const sizes = lines.map((l) => l.size);
      const from = Math.min(...sizes);
      const stored = await this.store.listCheckpoints(origin, from - 1, STORED_PAGE);
      const full = stored.length === STORED_PAGE;
      const have = new Set(stored.map((c) => c.size));
      for (const line of lines) {
        if (have.has(line.size)) continue;
        // beyond the page read above: ask for this one
        if (full && (await this.store.checkpointAt(origin, line.size))) continue;
        if (!(await this.provable(line))) continue;
        await this.store.saveCheckpoint({ ...line, signedAt: new Date(line.signedAt) });
        have.add(line.size);
        restored++;
      }
      // what could not be put back: the store ends before the witnessed history does (a
      // rollback to an older copy, or a cut tail), which only verify said before
      const witnessedSize = Math.max(...sizes);
      const storedSize = (await this.store.latestCheckpoint(origin))?.size ?? 0;
      if (storedSize < witnessedSize) {
        this.behind.set(origin, { witnessedSize, storedSize });
        this.logger.error(
          { origin, witnessedSize, storedSize, reason: 'log_rolled_back' },
          'ALARM: the store is behind the witness file (rolled back to an older copy?): verify answers tail_cut; after a planned restore, restore the witness file from the same backup and restart',
        );
      }
    }
    return restored;
  }

  private async provable(line: WitnessLine): Promise<boolean> {
    const checkpoint = { ...line, signedAt: new Date(line.signedAt) };
    if (Number.isNaN(checkpoint.signedAt.getTime())) return false;
    let root: string;
    try {
      root = (await this.tlog.rootAt(line.origin, line.size)).toString('hex');
    } catch {
      return false; // the stored tree does not reach this size
    }
    return this.verifier.checkpointFault(checkpoint, root) === undefined;
  }
}
