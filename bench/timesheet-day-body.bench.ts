/**
 * A stored timesheet day's packets: [packetId, seq] pairs (ours) against the object keyed by
 * packet id that days held before. V8 gives an object built key by key a hidden class per key
 * (a map and a longer descriptor array each time), and packet ids are all new: a day of 40
 * punches cost that 40 times over, when the day was computed (`computeDays`) and each time its
 * stored body was parsed (a page of days, the CSV export, payroll).
 *
 * Each round makes DAY_BODY_DAYS days (default 2,000) of DAY_BODY_PUNCHES punches each (40) with
 * fresh packet ids (as a real site's are: a parsed id never seen before), then, interleaved,
 * each side first in turn: the stored bodies parsed by `dayFromBody` (ours: pairs) against
 * `JSON.parse` of the same days stored the old way (the old `dayFromBody`), and the days'
 * packets built as `computeDays` builds them now (a Map, then pairs by seq) against an object
 * keyed by packet id (the old `note`). Process CPU per day, medians of DAY_BODY_ROUNDS (9).
 */
import { randomUUID } from 'node:crypto';
import { TimesheetDay } from '@app/timesheets/domain/timesheet-day';
import {
  dayFromBody,
  dayToBody,
} from '@app/timesheets/infrastructure/persistence/timesheet-stored';
import { median, printRows } from './support';

const DAYS = Number(process.env.DAY_BODY_DAYS ?? 2_000);
const PUNCHES = Number(process.env.DAY_BODY_PUNCHES ?? 40);
const ROUNDS = Number(process.env.DAY_BODY_ROUNDS ?? 9);

/** One day of `PUNCHES` punches with fresh packet ids: [packetId, seq] pairs by seq. */
function freshPackets(day: number): [string, number][] {
  return Array.from({ length: PUNCHES }, (_, i) => [randomUUID(), day * PUNCHES + i + 1]);
}

function dayOf(n: number, packets: [string, number][]): TimesheetDay {
  const shifts = [];
  for (let i = 0; i + 1 < packets.length; i += 2) {
    const at = n * 86_400_000 + i * 600_000;
    shifts.push({
      inSeq: packets[i][1],
      in: at,
      outSeq: packets[i + 1][1],
      out: at + 300_000,
      seconds: 300,
    });
  }
  return {
    siteId: 'bench-site',
    workerId: `worker-${n}`,
    day: '2026-01-05',
    shifts,
    workedSeconds: shifts.length * 300,
    firstIn: shifts[0]?.in,
    lastOut: shifts[shifts.length - 1]?.out,
    flags: [],
    corrected: false,
    seqs: packets.map(([, seq]) => seq),
    packets,
  };
}

function cpuMs(work: () => void): number {
  const start = process.cpuUsage();
  work();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

export async function run(): Promise<void> {
  const sides = {
    parseOurs: [] as number[],
    parseBefore: [] as number[],
    buildOurs: [] as number[],
    buildBefore: [] as number[],
  };
  let check = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // fresh ids for each side: an id parsed once has its hidden classes cached after
    const pairs = Array.from({ length: DAYS }, (_, n) => dayToBody(dayOf(n, freshPackets(n))));
    const keyed = Array.from({ length: DAYS }, (_, n) => {
      const day = dayOf(n, freshPackets(n)) as unknown as { packets: unknown };
      day.packets = Object.fromEntries(day.packets as [string, number][]);
      return JSON.stringify(day);
    });
    const idsOurs = Array.from({ length: DAYS }, (_, n) => freshPackets(n));
    const idsBefore = Array.from({ length: DAYS }, (_, n) => freshPackets(n));
    const parseOurs = () => {
      for (const body of pairs) check += dayFromBody(body).packets.length;
    };
    const parseBefore = () => {
      for (const body of keyed) check += (JSON.parse(body) as TimesheetDay).seqs.length;
    };
    // as computeDays notes each punch: by packet id (a punch may be noted twice), then by seq
    const buildOurs = () => {
      for (const day of idsOurs) {
        const packets = new Map<string, number>();
        for (const [id, seq] of day) packets.set(id, seq);
        check += [...packets].sort((a, b) => a[1] - b[1]).length;
      }
    };
    const buildBefore = () => {
      for (const day of idsBefore) {
        const packets: Record<string, number> = {};
        for (const [id, seq] of day) packets[id] = seq;
        check += Object.keys(packets).length;
      }
    };
    const order: [keyof typeof sides, () => void][] = [
      ['parseOurs', parseOurs],
      ['parseBefore', parseBefore],
      ['buildOurs', buildOurs],
      ['buildBefore', buildBefore],
    ];
    if (round % 2 === 1) order.reverse();
    for (const [name, work] of order) sides[name].push(cpuMs(work) / DAYS);
  }
  if (check === 0) throw new Error('nothing was read');
  const us = (xs: number[]) => median(xs) * 1000;
  printRows(
    `Timesheet day packets: pairs vs an object keyed by packet id (${DAYS} days of ${PUNCHES} punches)`,
    [
      {
        metric:
          'a stored day parsed (ours: `dayFromBody` of pairs; baseline: `JSON.parse` of the keyed object), CPU per day',
        ours: us(sides.parseOurs),
        baseline: us(sides.parseBefore),
        unit: 'µs',
      },
      {
        metric:
          "a day's packets built (ours: a Map, then pairs by seq; baseline: an object keyed by packet id), CPU per day",
        ours: us(sides.buildOurs),
        baseline: us(sides.buildBefore),
        unit: 'µs',
      },
    ],
  );
}
