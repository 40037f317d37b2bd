import type { Logger } from '@nestjs/common';
import type { Response } from 'express';
import { once } from 'node:events';
import { isDomainError } from '@app/common';
import { CSV_CUT_MARKER, csvLine } from './domain/timesheet-csv';

/** A CSV export: its file name, header, whether it starts with a BOM, and its rows' text. */
export interface CsvExport {
  filename: string;
  header: string[];
  bom: boolean;
  /** The rows, a chunk at a time (each chunk whole lines, as `csvLine` writes them). */
  chunks: AsyncIterable<string>;
}

/**
 * Streams a CSV export, the one writer of `timesheets.csv` and `payroll.csv`: the first chunk
 * is read before the status line, so an error there is the JSON error it is; once the status
 * is out, an error ends the file with the `#export_incomplete,<code>` line and the connection
 * is cut before the body's end, so no tool takes it for a whole file. `bom`: the UTF-8 byte
 * order mark first (Excel on Windows needs it for names beyond ASCII).
 */
export async function sendCsv(res: Response, csv: CsvExport, logger: Logger): Promise<void> {
  const chunks = csv.chunks[Symbol.asyncIterator]();
  let next = await chunks.next();
  res.status(200);
  res.setHeader('content-type', 'text/csv; charset=utf-8; header=present');
  res.setHeader('content-disposition', `attachment; filename="${csv.filename}"`);
  res.write(csv.bom ? `\ufeff${csvLine(csv.header)}` : csvLine(csv.header));
  try {
    while (!next.done) {
      if (!res.write(next.value)) await once(res, 'drain');
      next = await chunks.next();
    }
  } catch (error) {
    logger.error({ err: error, file: csv.filename }, 'CSV export cut off by an error');
    res.write(csvLine([CSV_CUT_MARKER, isDomainError(error) ? error.code : 'internal_error']));
    res.destroy();
    return;
  }
  res.end();
}
