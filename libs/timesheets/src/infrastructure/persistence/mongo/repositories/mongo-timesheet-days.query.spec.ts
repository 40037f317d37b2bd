import type { Connection } from 'mongoose';
import { MongoStoreHandle } from '@app/persistence';
import { DayQuery } from '../../timesheet.repository';
import { TIMESHEET_DAY_KEY } from '../schemas/timesheet.schema';
import { MongoTimesheetRepository } from './mongo-timesheet.repository';

/** A find as the repository sent it to the days collection. */
interface SentFind {
  filter: Record<string, unknown>;
  sort?: unknown;
  hint?: unknown;
  limit?: number;
}

/**
 * The repository over models that record their finds and answer none (no server: the query
 * planner is MongoDB's; what is checked here is that each query gives it bounds on every field
 * of the (siteId, workerId, day) key, and no `$or` it would have to filter with).
 */
function recordingRepository(): { repo: MongoTimesheetRepository; finds: SentFind[] } {
  const finds: SentFind[] = [];
  const model = {
    find(filter: Record<string, unknown>) {
      const sent: SentFind = { filter };
      finds.push(sent);
      const chain = {
        sort: (sort: unknown) => ((sent.sort = sort), chain),
        hint: (hint: unknown) => ((sent.hint = hint), chain),
        limit: (limit: number) => ((sent.limit = limit), chain),
        lean: () => Promise.resolve([]),
      };
      return chain;
    },
  };
  // the repository also opens its seal's key-id collection (readmodel); this spec sends no query to it
  const store = {
    driver: 'mongo',
    connection: { model: () => model, collection: () => ({}) } as unknown as Connection,
  };
  return { repo: new MongoTimesheetRepository(store as MongoStoreHandle), finds };
}

/** Whether a find's filter bounds siteId, workerId and day (each an equality, range or list). */
function bounds(filter: Record<string, unknown>): Record<string, string> {
  const shape = (v: unknown) =>
    typeof v === 'string'
      ? 'eq'
      : Object.keys(v as object)
          .sort()
          .join(',');
  return Object.fromEntries(
    Object.entries(filter)
      .filter(([k]) => k !== 'body')
      .map(([k, v]) => [k, shape(v)]),
  );
}

describe('MongoTimesheetRepository.listDays: the queries it sends', () => {
  const q: DayQuery = { siteId: 'S', fromDay: '2026-03-01', toDay: '2026-03-07', limit: 50 };

  it.each<[string, Partial<DayQuery>, Array<Record<string, string>>]>([
    ['first page of a site', {}, [{ siteId: 'eq', day: '$gte,$lte' }]],
    [
      'a page after a cursor',
      { after: { workerId: 'w-2', day: '2026-03-03' } },
      [
        { siteId: 'eq', workerId: 'eq', day: '$gt,$lte' },
        { siteId: 'eq', workerId: '$gt', day: '$gte,$lte' },
      ],
    ],
    [
      'a crew after a cursor of the period last day',
      { workerIds: ['w-3', 'w-1', 'w-2'], after: { workerId: 'w-2', day: '2026-03-07' } },
      [{ siteId: 'eq', workerId: '$in', day: '$gte,$lte' }],
    ],
    [
      'a crew after a cursor before the period',
      { workerIds: ['w-3', 'w-2'], after: { workerId: 'w-2', day: '2026-02-01' } },
      [
        { siteId: 'eq', workerId: 'eq', day: '$gte,$lte' },
        { siteId: 'eq', workerId: '$in', day: '$gte,$lte' },
      ],
    ],
  ])(
    'should send, for %s, bounds of the key in its order (no $or), hinted',
    async (_name, extra, expected) => {
      const { repo, finds } = recordingRepository();
      await repo.listDays({ ...q, ...extra });
      expect(finds.map((f) => bounds(f.filter))).toEqual(expected);
      for (const f of finds) {
        expect(f.filter.$or).toBeUndefined();
        expect(f.filter.body).toEqual({ $exists: true });
        expect(f.sort).toEqual({ workerId: 1, day: 1 });
        expect(f.hint).toEqual(TIMESHEET_DAY_KEY);
      }
      expect(finds.reduce((n, f) => n + f.limit!, 0)).toBe(q.limit * finds.length);
    },
  );

  it('should leave out of the crew list the workers before the cursor', async () => {
    const { repo, finds } = recordingRepository();
    await repo.listDays({
      ...q,
      workerIds: ['w-3', 'w-1', 'w-2'],
      after: { workerId: 'w-2', day: '2026-03-07' },
    });
    expect(finds[0].filter.workerId).toEqual({ $in: ['w-3'] });
  });
});
