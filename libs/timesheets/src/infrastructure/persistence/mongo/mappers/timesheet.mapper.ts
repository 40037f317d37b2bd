import { TimesheetEntry } from '../../../../domain/timesheet-entry';
import { entryFromStored } from '../../timesheet-stored';
import { TimesheetEntryDocument } from '../schemas/timesheet.schema';

export class TimesheetMongoMapper {
  /** A lean entry document (its fields already have the domain's names). */
  static toDomain(this: void, doc: TimesheetEntryDocument): TimesheetEntry {
    return entryFromStored(doc, [...doc.correctedBy]);
  }
}
