import { actionForm, facts, sitePicker } from '../components';
import { KeysetPager, Page, PageContext } from '../context';
import {
  action,
  badge,
  Child,
  field,
  h,
  link,
  panel,
  scrollBox,
  section,
  table,
  when,
} from '../dom';
import { pagerNav } from '../pager';
import {
  Payroll,
  PayrollClose,
  PayrollCloses,
  PayrollTotals,
  Site,
  TimesheetDay,
  TimesheetFlag,
  TimesheetPage,
  Worker,
} from '../types';

/** Worker rows a grid page shows (a month of a 2,000-worker site is 40 pages). */
export const GRID_ROWS = 50;
/** Worker-days asked per API page (a grid page of 50 workers × 31 days is two). */
const DAY_LIMIT = 1000;
/** API pages one grid page may read (a bound against a server that never ends a walk). */
const MAX_API_PAGES = 100;
/** The worker list's page (its largest), to name the rows. */
const NAME_LIMIT = 500;
const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
/** The site's latest closes listed under the period. */
const CLOSES_SHOWN = 12;

export const timesheetsPage: Page = {
  id: 'timesheets',
  title: 'Timesheets',
  roles: ['admin', 'auditor'],
  render,
};

const FLAG_TEXT: Record<TimesheetFlag['type'], string> = {
  open_shift: 'open shift (no check-out)',
  check_out_without_check_in: 'check-out without check-in',
  low_trust: 'low device trust',
  corrected: 'corrected',
  voided_punch: 'voided punch',
  voided_correction: 'voided correction',
  overlapping_shift: 'added shift overlaps another shift or punch',
  overlaps_other_site: 'overlaps a shift at another site',
  over_max_hours: 'more hours than the longest shift',
  over_max_hours_acknowledged: 'more hours than the longest shift, acknowledged',
  fraud: 'fraud flag',
  fraud_dismissed: 'fraud flag, dismissed in review',
  fraud_tampered: 'fraud record changed outside the server',
};

/** Site names by siteId, as the site list gave them: `overlaps_other_site` names its site by id. */
const siteNames = new Map<string, string>();

/** What a supervisor already did (the API does not flag a day for these alone). */
const INFORMATIONAL: ReadonlySet<TimesheetFlag['type']> = new Set([
  'corrected',
  'voided_punch',
  'voided_correction',
  'over_max_hours_acknowledged',
  'fraud_dismissed',
]);

function render(ctx: PageContext): void {
  const siteId = ctx.params[0];
  const requested = ctx.query.get('month') ?? '';
  // a browser without a month picker shows a text field: the pattern keeps it to YYYY-MM
  const month = h('input', {
    type: 'month',
    name: 'month',
    required: true,
    min: '2000-01',
    pattern: '\\d{4}-\\d{2}',
    placeholder: 'YYYY-MM',
  });
  if (MONTH.test(requested)) month.dataset.touched = 'yes';
  let chosen: Site | undefined;
  const { picker, status, sites } = sitePicker(ctx, siteId, (site) => {
    chosen = site;
    // "this month" is the site's: follow the site until someone picks a month
    if (!month.dataset.touched) month.value = currentMonth(site.timeZone);
  });
  month.addEventListener('input', () => (month.dataset.touched = 'yes'));
  const show = (e: Event): void => {
    e.preventDefault();
    const id = chosen?.siteId ?? siteId;
    if (!id || !MONTH.test(month.value)) return;
    ctx.navigate(`#/timesheets/${id}?month=${month.value}`);
  };
  ctx.main.append(
    h('h1', {}, 'Timesheets'),
    h(
      'form',
      { class: 'inline', 'aria-label': 'Timesheet period', onsubmit: show },
      picker,
      field('Month', month),
      h('button', { type: 'submit' }, 'Show'),
    ),
    status,
  );
  void sites.then((list) => {
    for (const s of list ?? []) siteNames.set(s.siteId, s.name);
    const site = list?.find((s) => s.siteId === siteId);
    chosen = site;
    month.value = MONTH.test(requested) ? requested : currentMonth(site?.timeZone);
    if (!siteId) return;
    // the month in its own box, drawn again after a close (its payroll then carries it)
    const host = h('div', { class: 'month' });
    ctx.main.append(host);
    // the month shown, not the field's value when redrawn (edited without Show, or cleared)
    const shown = month.value;
    const draw = (): void => {
      host.replaceChildren();
      renderMonth(ctx, host, siteId, site, shown, draw);
    };
    draw();
  });
}

/** This month where the site is (UTC for a site without a zone). */
function currentMonth(timeZone = 'UTC'): string {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit' });
  } catch {
    // a zone this browser does not know: UTC's month is at most a day off
    format = new Intl.DateTimeFormat('en-CA', {
      timeZone: 'UTC',
      year: 'numeric',
      month: '2-digit',
    });
  }
  const parts = format.formatToParts(new Date());
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}`;
}

function monthDays(month: string): string[] {
  const [year, m] = month.split('-').map(Number);
  const count = new Date(Date.UTC(year, m, 0)).getUTCDate();
  return Array.from({ length: count }, (_, i) => `${month}-${String(i + 1).padStart(2, '0')}`);
}

interface MonthData {
  /** The days of this grid page's workers (every day of each, in worker order). */
  days: TimesheetDay[];
  payroll: Payroll;
  names: Map<string, string>;
  /** 1-based number of the first row on this page, among every worker of the payroll. */
  firstRow: number;
  /**
   * The payroll's workers with no day whose ids fall among this page's (after the previous
   * page's last worker, up to this one's, or to the end on the last page): a worker whose every
   * punch of the month was refused at sync has a payroll row and no day.
   */
  dayless: string[];
  next?: GridStart;
}

/**
 * Where a grid page starts in the API's walk of the month (worker-days in `(workerId, day)`
 * order): the `nextCursor` to follow, the days already read that belong to the page's workers
 * (the previous page read past its last worker to know it was complete), and whether the walk
 * is over.
 */
interface GridStart {
  cursor?: string;
  carry: TimesheetDay[];
  done: boolean;
  firstRow: number;
  /** The last worker of the previous grid page. */
  after?: string;
}

const FIRST: GridStart = { carry: [], done: false, firstRow: 1 };

function renderMonth(
  ctx: PageContext,
  host: HTMLElement,
  siteId: string,
  site: Site | undefined,
  month: string,
  redraw: () => void,
): void {
  const dates = monthDays(month);
  const period = { from: dates[0], to: dates[dates.length - 1] };
  const base = `/api/v5/sites/${encodeURIComponent(siteId)}`;
  const grid = h('div', { class: 'panel' });
  const detail = h('div', { class: 'panel day-detail', 'aria-live': 'polite' });
  const download = h('div', { class: 'status' });
  const downloadButton = h('button', { type: 'button', class: 'secondary' }, 'Download CSV');
  downloadButton.addEventListener('click', () => {
    void action(download, downloadButton, async () => {
      // fetched with the key in its header, then saved from a blob: the key never goes in a URL;
      // with a byte order mark, so Excel on Windows opens non-ASCII names as UTF-8
      const blob = await ctx.api.blob(
        `${base}/timesheets.csv?from=${period.from}&to=${period.to}&bom=true`,
      );
      const url = URL.createObjectURL(blob);
      ctx.onLeave(() => URL.revokeObjectURL(url));
      const filename = `timesheets-${siteId}-${period.from}-${period.to}.csv`;
      const save = h('a', { href: url, download: filename, class: 'download' }, 'Save it again');
      save.click();
      const rows = Math.max(0, (await blob.text()).split('\r\n').filter(Boolean).length - 1);
      return h(
        'p',
        { role: 'status' },
        `${filename}: ${rows} worker-day${rows === 1 ? '' : 's'}, ${blob.size} bytes. `,
        save,
      );
    });
  });
  const closing = h('div', { class: 'panel payroll-close' });
  host.append(
    section(
      `${site?.name ?? `Site ${siteId}`}, ${monthName(month)}`,
      h(
        'p',
        {},
        link(`#/ledgers/${siteId}`, 'Ledger of this site'),
        ' · ',
        h('span', {}, 'Days are local to the site: '),
        h('code', { 'data-time-zone': '' }, site?.timeZone ?? 'the server default'),
      ),
      h('div', { class: 'actions' }, downloadButton),
      download,
      h('h3', {}, 'Payroll period'),
      closing,
      grid,
      legend(),
      h('h3', {}, 'Day detail'),
      detail,
    ),
  );
  detail.append(h('p', { class: 'hint' }, 'Choose a day in the grid to see its shifts and flags.'));
  // the payroll (one row per worker with days) and the names are read once for the month;
  // the grid's pages each read the worker-days of their GRID_ROWS workers
  const payroll = ctx.api.get<Payroll>(`${base}/payroll`, period).then((r) => r.data);
  const names = new SiteNames(ctx, siteId);
  void panel(
    closing,
    async () => {
      const [totals, closes, named] = await Promise.all([
        payroll,
        ctx.api
          .get<PayrollCloses>(`${base}/payroll/closes`, { limit: CLOSES_SHOWN })
          .then((r) => r.data),
        // every worker the payroll has is named by it (it reads the records)
        payroll.then((p) => new Map(p.workers.map((w) => [w.workerId, w.name ?? '']))),
      ]);
      return { totals, closes, named };
    },
    ({ totals, closes, named }) =>
      periodView(ctx, {
        base,
        payroll: totals,
        closes,
        siteName: site?.name ?? `Site ${siteId}`,
        period: monthName(month),
        name: (id) => named.get(id) || `worker …${id.slice(-6)}`,
        redraw,
      }),
  );
  const pager = new KeysetPager();
  const starts = new Map<string, GridStart>();
  const show = (): void => {
    const start = (pager.current && starts.get(pager.current)) || FIRST;
    void panel(
      grid,
      async (): Promise<MonthData> => {
        const [rows, totals] = await Promise.all([loadRows(ctx, base, period, start), payroll]);
        const dayless = daylessWorkers(totals, rows.days, start.after, rows.next?.after);
        // the next page's rows are numbered after this one's, these included
        const next = rows.next && { ...rows.next, firstRow: rows.next.firstRow + dayless.length };
        return {
          ...rows,
          next,
          dayless,
          payroll: totals,
          names: await names.covering(rows.days, totals),
        };
      },
      (data) => {
        let nextKey: string | undefined;
        if (data.next) {
          nextKey = String(pager.page + 1);
          starts.set(nextKey, data.next);
        }
        return [
          monthGrid(data, dates, siteId, detail),
          data.days.length > 0 || pager.page > 1
            ? pagerNav('Timesheet workers', pager, nextKey, show)
            : null,
        ];
      },
    );
  };
  show();
}

/**
 * The days of the GRID_ROWS workers from `start` on: API pages are read until a worker past
 * them shows up (so the last one is complete) or the walk ends; the days past them start the
 * next grid page.
 */
async function loadRows(
  ctx: PageContext,
  base: string,
  period: { from: string; to: string },
  start: GridStart,
): Promise<{ days: TimesheetDay[]; firstRow: number; next?: GridStart }> {
  const days = [...start.carry];
  let { cursor, done } = start;
  const workers = new Set(days.map((d) => d.workerId));
  for (let read = 0; !done && workers.size <= GRID_ROWS && read < MAX_API_PAGES; read++) {
    const res = await ctx.api.get<TimesheetPage>(`${base}/timesheets`, {
      ...period,
      limit: DAY_LIMIT,
      cursor,
    });
    for (const day of res.data.days) workers.add(day.workerId);
    days.push(...res.data.days);
    cursor = res.data.nextCursor;
    done = cursor === undefined;
  }
  const shown = new Set([...workers].slice(0, GRID_ROWS));
  const carry = days.filter((d) => !shown.has(d.workerId));
  const next =
    carry.length > 0 || !done
      ? { cursor, carry, done, firstRow: start.firstRow + shown.size, after: [...shown].pop() }
      : undefined;
  return { days: days.filter((d) => shown.has(d.workerId)), firstRow: start.firstRow, next };
}

/**
 * Names of the site's workers for the grid's rows, read through the worker list's keyset
 * pages only as far as the rows shown need (both go in worker id order), and kept: paging
 * the grid forward reads each list page once. A worker no longer listed at the site (moved
 * elsewhere, or left) is named by the month's payroll, which names every worker with days;
 * only a worker without a record shows its id.
 */
class SiteNames {
  private readonly names = new Map<string, string>();
  private after: string | undefined;
  private done = false;

  constructor(
    private readonly ctx: PageContext,
    private readonly siteId: string,
  ) {}

  async covering(days: TimesheetDay[], payroll: Payroll): Promise<Map<string, string>> {
    const last = days.reduce((max, d) => (d.workerId > max ? d.workerId : max), '');
    while (!this.done && (this.after === undefined || this.after < last)) {
      const page = (
        await this.ctx.api.get<Worker[]>('/api/v5/workers', {
          siteId: this.siteId,
          limit: NAME_LIMIT,
          after: this.after,
        })
      ).data;
      for (const w of page) this.names.set(w.workerId, w.name);
      if (page.length > 0) this.after = page[page.length - 1].workerId;
      this.done = page.length < NAME_LIMIT;
    }
    for (const w of payroll.workers) {
      if (w.name !== undefined && !this.names.has(w.workerId)) this.names.set(w.workerId, w.name);
    }
    return this.names;
  }
}

/**
 * The payroll's workers without a day in the grid page's range of worker ids, `(after, upTo]`
 * (both go in worker id order): no day read names them, so no day page would show them.
 */
function daylessWorkers(
  payroll: Payroll,
  days: TimesheetDay[],
  after: string | undefined,
  upTo: string | undefined,
): string[] {
  const withDays = new Set(days.map((d) => d.workerId));
  return payroll.workers
    .map((w) => w.workerId)
    .filter(
      (id) =>
        !withDays.has(id) &&
        (after === undefined || id > after) &&
        (upTo === undefined || id <= upTo),
    );
}

function monthName(month: string): string {
  const [year, m] = month.split('-').map(Number);
  return new Date(Date.UTC(year, m - 1, 1)).toLocaleString('en-GB', {
    month: 'long',
    year: 'numeric',
    timeZone: 'UTC',
  });
}

function hours(value: number): string {
  return value.toFixed(value % 1 === 0 ? 0 : 2).replace(/(\.\d)0$/, '$1');
}

function monthGrid(data: MonthData, dates: string[], siteId: string, detail: HTMLElement): Child {
  if (data.days.length === 0 && data.dayless.length === 0 && data.payroll.workers.length === 0) {
    return h('p', { class: 'empty' }, 'No punches at this site in this month.');
  }
  const byWorker = new Map<string, Map<string, TimesheetDay>>();
  for (const day of data.days) {
    let row = byWorker.get(day.workerId);
    if (!row) byWorker.set(day.workerId, (row = new Map<string, TimesheetDay>()));
    row.set(day.date, day);
  }
  const totals = new Map(data.payroll.workers.map((w) => [w.workerId, w]));
  // a closed period: each row also shows what changed since the close
  const closed = data.payroll.closed !== undefined;
  // the API's order (worker id: the order they were created in), the order of the pages; a
  // worker whose punches were all refused goes where its id does
  const workerIds = [...byWorker.keys()];
  for (const id of data.dayless) {
    const at = workerIds.findIndex((other) => other > id);
    workerIds.splice(at < 0 ? workerIds.length : at, 0, id);
  }
  const total = data.payroll.workers.length;
  const lastRow = data.firstRow + workerIds.length - 1;
  const name = (id: string) => data.names.get(id) ?? `worker ${id.slice(-6)}`;
  const weekday = (date: string) =>
    new Date(`${date}T00:00:00Z`).toLocaleString('en-GB', { weekday: 'narrow', timeZone: 'UTC' });
  return [
    h(
      'p',
      { class: 'hint', role: 'status', 'data-rows': `${data.firstRow}-${lastRow}/${total}` },
      workerIds.length
        ? `Workers ${data.firstRow}–${lastRow} of ${total} with days this month, in the order they were created (${GRID_ROWS} a page).`
        : 'No more workers.',
    ),
    scrollBox(
      'Hours per worker and day',
      h(
        'table',
        { class: 'timesheet' },
        h('caption', {}, 'Hours per worker and day'),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Worker'),
            h('th', { scope: 'col' }, 'Hours'),
            h('th', { scope: 'col' }, 'Days'),
            h('th', { scope: 'col' }, 'Flagged'),
            h('th', { scope: 'col' }, 'Corrected'),
            h(
              'th',
              {
                scope: 'col',
                class: closed ? false : 'sep',
                title:
                  'Punches the server refused at sync (not in the hours): pay them from the site register',
              },
              'Refused',
            ),
            closed ? h('th', { scope: 'col', class: 'sep' }, 'Since close') : null,
            dates.map((d) =>
              h(
                'th',
                { scope: 'col', class: 'day', abbr: d },
                h('span', { class: 'dow' }, weekday(d)),
                String(Number(d.slice(8))),
              ),
            ),
          ),
        ),
        h(
          'tbody',
          {},
          workerIds.map((workerId) => {
            const total = totals.get(workerId);
            const row = byWorker.get(workerId);
            return h(
              'tr',
              { 'data-worker-id': workerId },
              h('th', { scope: 'row' }, link(`#/workers/${workerId}`, name(workerId))),
              h('td', { class: 'num' }, total ? hours(total.hours) : '—'),
              h('td', { class: 'num' }, total ? String(total.daysPresent) : '—'),
              h('td', { class: 'num' }, total ? String(total.flaggedDays) : '—'),
              h('td', { class: 'num' }, total ? String(total.correctedDays) : '—'),
              h(
                'td',
                { class: closed ? 'num' : 'num sep', 'data-refused': workerId },
                refusedCell(total, name(workerId), siteId, dates[0]),
              ),
              closed
                ? h(
                    'td',
                    { class: 'num sep', 'data-since-close': workerId },
                    change(total?.sinceClose),
                  )
                : null,
              dates.map((date) => {
                const day = row?.get(date);
                return h(
                  'td',
                  { class: 'day' },
                  day ? dayButton(day, name(workerId), siteId, detail) : null,
                );
              }),
            );
          }),
        ),
      ),
    ),
    h('p', { class: 'hint scroll-hint' }, 'The days scroll sideways; the names stay in view.'),
  ];
}

/**
 * A worker's punches refused at sync in the month, linked to their fraud events (the worker's
 * at this site since the month began: the events are recorded at sync, after the punch).
 */
function refusedCell(
  total: Payroll['workers'][number] | undefined,
  worker: string,
  siteId: string,
  from: string,
): Child {
  if (!total || total.refusedPunches === 0) return '—';
  const n = total.refusedPunches;
  const query = new URLSearchParams({ workerId: total.workerId, siteId, from, refused: 'yes' });
  return h(
    'a',
    {
      href: `#/fraud?${query.toString()}`,
      class: 'refused',
      title: `${worker}: ${n} punch${n === 1 ? '' : 'es'} refused at sync, not in the hours; see them in the fraud events`,
    },
    String(n),
    h('span', { class: 'mark', 'aria-hidden': 'true' }, '!'),
  );
}

function flagText(flag: TimesheetFlag): string {
  if (!flag.detail) return FLAG_TEXT[flag.type];
  // the other site by its name when the site list has it (else its id)
  const detail =
    flag.type === 'overlaps_other_site' ? (siteNames.get(flag.detail) ?? flag.detail) : flag.detail;
  return `${FLAG_TEXT[flag.type]}: ${detail}`;
}

function dayButton(
  day: TimesheetDay,
  worker: string,
  siteId: string,
  detail: HTMLElement,
): HTMLElement {
  const flags = [...new Set(day.flags.map(flagText))];
  const label = [
    `${worker}, ${day.date}: ${hours(day.hours)} hours`,
    flags.length ? `flags: ${flags.join(', ')}` : 'no flags',
  ].join('; ');
  const tone = day.flagged ? 'cell-flagged' : day.corrected ? 'cell-corrected' : 'cell-ok';
  return h(
    'button',
    {
      type: 'button',
      class: `cell ${tone}`,
      'aria-label': label,
      title: label,
      'data-date': day.date,
      'data-flags': day.flags.map((f) => f.type).join(' '),
      onclick: () => detail.replaceChildren(...dayDetail(day, worker, siteId)),
    },
    hours(day.hours),
    day.flagged ? h('span', { class: 'mark', 'aria-hidden': 'true' }, '!') : null,
    day.corrected ? h('span', { class: 'mark', 'aria-hidden': 'true' }, '*') : null,
  );
}

function dayDetail(day: TimesheetDay, worker: string, siteId: string): HTMLElement[] {
  return [
    h('h4', {}, `${worker}, ${day.date}`),
    facts([
      ['Hours', hours(day.hours)],
      ['First in', day.firstIn ?? '—'],
      ['Last out', day.lastOut ?? '—'],
      [
        'Status',
        [
          day.flagged ? badge('flagged', 'warn') : badge('clean', 'ok'),
          ' ',
          day.corrected ? badge('corrected', 'info') : null,
        ],
      ],
      ['Ledger entries', day.seqs.map((s) => `#${s}`).join(', ')],
    ]),
    table(
      'Shifts',
      [
        { header: 'In', cell: (s) => `${s.in.local} (#${s.in.seq})` },
        { header: 'Out', cell: (s) => (s.out ? `${s.out.local} (#${s.out.seq})` : 'open') },
        { header: 'Recorded', cell: (s) => (s.added ? 'added by a correction' : 'punched') },
        { header: 'Hours', cell: (s) => hours(s.seconds / 3600) },
      ],
      day.shifts,
      'No complete shift.',
    ),
    table(
      'Flags',
      [
        {
          header: 'Flag',
          cell: (f) => badge(f.type, INFORMATIONAL.has(f.type) ? 'info' : 'warn'),
        },
        { header: 'Meaning', cell: (f) => flagText(f) },
        { header: 'Ledger entry', cell: (f) => `#${f.seq}` },
      ],
      day.flags,
      'No flags.',
    ),
    h('p', {}, link(`#/fraud?siteId=${siteId}`, 'Fraud events at this site')),
  ];
}

function legend(): HTMLElement {
  return h(
    'p',
    { class: 'legend' },
    h('span', { class: 'cell cell-ok' }, '8'),
    ' hours worked · ',
    h('span', { class: 'cell cell-flagged' }, '8!'),
    ' flagged (open shift, stray check-out, low trust, overlapping added shift, a shift at another site at the same time, a day past the longest shift, or fraud not dismissed in review) · ',
    h('span', { class: 'cell cell-corrected' }, '8*'),
    ' corrected by a ledger entry',
  );
}

interface PeriodOptions {
  base: string;
  payroll: Payroll;
  closes: PayrollCloses;
  siteName: string;
  /** The period in words ("March 2026"). */
  period: string;
  name: (workerId: string) => string;
  redraw: () => void;
}

/** A change of totals, signed: "+1.5 h, +1 day"; '—' when nothing changed. */
function change(delta: PayrollTotals | undefined): string {
  if (!delta || (delta.workedSeconds === 0 && delta.daysPresent === 0 && delta.flaggedDays === 0))
    return '—';
  const signed = (n: number, text: string) => `${n > 0 ? '+' : ''}${text}`;
  const parts = [signed(delta.hours, `${hours(delta.hours)} h`)];
  if (delta.daysPresent !== 0)
    parts.push(
      signed(
        delta.daysPresent,
        `${delta.daysPresent} day${Math.abs(delta.daysPresent) === 1 ? '' : 's'}`,
      ),
    );
  if (delta.flaggedDays !== 0)
    parts.push(signed(delta.flaggedDays, `${delta.flaggedDays} flagged`));
  return parts.join(', ');
}

/**
 * The payroll period's state: closed (when, by whom, and per worker what changed since), or
 * overlapping closed periods, or open; an admin may close it (after a confirmation), another
 * role is told only an admin can; then the site's latest closes.
 */
function periodView(ctx: PageContext, o: PeriodOptions): Child {
  const { payroll } = o;
  const closed = payroll.closed;
  const state: Child[] = [];
  if (closed) {
    const changed = payroll.workers.filter((w) => change(w.sinceClose) !== '—');
    state.push(
      h(
        'p',
        { 'data-period-state': 'closed' },
        badge('closed', 'info'),
        ` ${payroll.from} to ${payroll.to} was closed `,
        when(closed.at),
        ' by ',
        h('code', {}, closed.by),
        '. ',
        changed.length
          ? `${changed.length} worker${changed.length === 1 ? '' : 's'} changed since (a late sync or an admin's correction): the next pay run adds or takes back the difference.`
          : 'Nothing changed since.',
      ),
      changed.length
        ? table(
            'Changes since the close',
            [
              {
                header: 'Worker',
                cell: (w) => link(`#/workers/${w.workerId}`, o.name(w.workerId)),
              },
              { header: 'Hours at close', cell: (w) => hours(w.atClose?.hours ?? 0) },
              { header: 'Hours now', cell: (w) => hours(w.hours) },
              {
                header: 'Change',
                cell: (w) => h('span', { 'data-since-close': w.workerId }, change(w.sinceClose)),
              },
            ],
            changed,
          )
        : null,
    );
  } else if (payroll.overlapsClosed?.length) {
    state.push(
      h(
        'p',
        { 'data-period-state': 'overlaps' },
        badge('partly closed', 'warn'),
        ' This period overlaps closed periods: ',
        payroll.overlapsClosed.map((c, i) => [
          i ? '; ' : '',
          `${c.from} to ${c.to} (closed `,
          when(c.at),
          ')',
        ]),
        '. A day is closed once: it cannot be closed as this period.',
      ),
    );
  } else {
    state.push(
      h(
        'p',
        { 'data-period-state': 'open' },
        badge('open', 'ok'),
        ` ${payroll.from} to ${payroll.to} is not closed.`,
      ),
    );
  }
  if (!closed) state.push(closeAction(ctx, o));
  return [
    ...state,
    table(
      'Closed periods of this site, latest first',
      [
        { header: 'From', cell: (c: PayrollClose) => c.from },
        { header: 'To', cell: (c) => c.to },
        { header: 'Closed', cell: (c) => when(c.at) },
        { header: 'By', cell: (c) => h('code', {}, c.by) },
        {
          header: 'Record',
          cell: (c) =>
            c.integrity === 'verified' ? badge('verified', 'ok') : badge('tampered', 'bad'),
        },
      ],
      o.closes.closes,
      'No period of this site is closed yet.',
    ),
  ];
}

/**
 * "Close period…" for an admin: a confirmation that says what closing does, then the close
 * (`POST …/payroll/closes`) and the month drawn again. Another role sees why it has no button.
 */
function closeAction(ctx: PageContext, o: PeriodOptions): HTMLElement {
  if (!ctx.can('admin'))
    return h(
      'p',
      { class: 'hint', 'data-close': 'admin-only' },
      'Only an admin can close a period.',
    );
  const { from, to } = o.payroll;
  const box = h('div', { class: 'close-period' });
  const ask = h('button', { type: 'button', class: 'secondary' }, 'Close period…');
  const confirm = (): HTMLElement => {
    const cancel = h(
      'button',
      { type: 'button', class: 'secondary', onclick: () => box.replaceChildren(ask) },
      'Cancel',
    );
    const form = actionForm(
      {
        submit: 'Yes, close the period',
        danger: true,
        run: async () => {
          await ctx.api.post(`${o.base}/payroll/closes`, { from, to });
          o.redraw();
          return null;
        },
      },
      h(
        'p',
        { class: 'confirm' },
        `Close ${o.siteName} for ${o.period} (${from} to ${to})? Each worker's totals now are recorded as paid. Later punches and an admin's corrections show as changes since the close; a thekedar can no longer correct these days. A close cannot be undone.`,
      ),
    );
    form.setAttribute('aria-label', 'Confirm the close');
    form.querySelector('button[type=submit]')?.after(' ', cancel);
    return form;
  };
  ask.addEventListener('click', () => {
    const form = confirm();
    box.replaceChildren(form);
    form.querySelector<HTMLButtonElement>('button[type=submit]')?.focus();
  });
  box.append(ask);
  return box;
}
