import { actionForm, pagedList, success } from '../components';
import { Page, PageContext } from '../context';
import { badge, Child, field, formValue, h, localZone, short, table, when, whenText } from '../dom';
import { NameBook } from '../names';
import { FRAUD_EVENT_TYPES, FraudEvent, FraudEventDetail, FraudReview } from '../types';

const PAGE_SIZE = 25;
const FILTERS = ['type', 'review', 'deviceId', 'workerId', 'siteId', 'from', 'to'] as const;

export const fraudPage: Page = {
  id: 'fraud',
  title: 'Fraud',
  roles: ['admin'],
  render,
};

/** Pattern rules flag accepted packets; the others are refusals. */
const FLAGS = new Set(['impossible_travel', 'outside_geofence', 'rapid_repeat', 'shared_device']);

/** The refusals of an authentic punch: the payroll's `refusedPunches` counts their events. */
const REFUSED_PUNCH_TYPES = [
  'timestamp_too_old',
  'outside_token_window',
  'site_not_allowed',
  'timestamp_in_future',
] as const;
/** The type filter's value for any of them (the API takes one type: one read of each). */
const REFUSED = 'refused';

/** The current review: who decided what, when and why; "unreviewed" when none. */
export function reviewCell(review: FraudReview | undefined): Child {
  if (!review) return badge('unreviewed', 'warn');
  return h(
    'span',
    { class: 'review', title: `${review.by}, ${whenText(review.at)} (${review.at})` },
    badge(review.decision, review.decision === 'dismissed' ? 'ok' : 'bad'),
    ' ',
    review.reason,
  );
}

/**
 * Dismiss (a false positive: it no longer lowers the device's trust) or confirm an event, with
 * a reason; `done` gets the event as the server answered it.
 */
export function reviewForm(
  ctx: PageContext,
  event: FraudEvent,
  done: (reviewed: FraudEventDetail) => void,
): HTMLElement {
  const decision = h(
    'select',
    { name: 'decision' },
    h('option', { value: 'dismissed' }, 'Dismiss (false positive)'),
    h('option', { value: 'confirmed' }, 'Confirm'),
  );
  if (event.review)
    decision.value = event.review.decision === 'dismissed' ? 'confirmed' : 'dismissed';
  return h(
    'details',
    { class: 'review-action' },
    h('summary', {}, event.review ? 'Change review' : 'Review'),
    actionForm(
      {
        submit: 'Save review',
        class: 'review-form',
        run: async (form) => {
          const res = await ctx.api.post<FraudEventDetail>(
            `/api/v5/fraud/events/${encodeURIComponent(event.id)}/review`,
            { decision: formValue(form, 'decision'), reason: formValue(form, 'reason') },
          );
          done(res.data);
          return success(`Saved: ${res.data.review?.decision ?? ''}`);
        },
      },
      field('Decision', decision),
      field(
        'Reason',
        h('input', { name: 'reason', required: true, minlength: 1, maxlength: 500 }),
        'Kept with your key id in the review history',
      ),
    ),
  );
}

export function fraudTable(
  rows: FraudEvent[],
  names: NameBook,
  review?: (event: FraudEvent) => Child,
): HTMLElement {
  return table(
    'Fraud events, newest first',
    [
      { header: 'When', cell: (e) => when(e.at) },
      {
        header: 'Type',
        cell: (e) =>
          h(
            'span',
            {},
            badge(e.type, FLAGS.has(e.type) ? 'warn' : 'bad'),
            // changed outside the server (its tag does not verify), or from before the tags
            ...(e.integrity === 'verified'
              ? []
              : [
                  ' ',
                  badge(
                    e.integrity === 'tampered' ? 'tampered' : 'legacy',
                    e.integrity === 'tampered' ? 'bad' : 'warn',
                  ),
                ]),
          ),
      },
      {
        header: 'Device',
        cell: (e) =>
          e.deviceId
            ? names.show('device', e.deviceId, `#/devices/${encodeURIComponent(e.deviceId)}`)
            : '—',
      },
      {
        header: 'Worker',
        cell: (e) =>
          e.workerId ? names.show('worker', e.workerId, `#/workers/${e.workerId}`) : '—',
      },
      {
        header: 'Site',
        cell: (e) => (e.siteId ? names.show('site', e.siteId, `#/ledgers/${e.siteId}`) : '—'),
      },
      // the packet under the detail, and the review action under the review: fewer, narrower
      // columns, so the table fits a laptop's window beside the navigation (it scrolls in its
      // box on a narrower one)
      {
        header: 'Detail',
        cell: (e) => [
          h('span', { class: 'detail' }, e.detail),
          e.punch
            ? h(
                'small',
                { class: 'punch', 'data-punch': e.punch.type },
                'refused punch: ',
                e.punch.type === 'check_in' ? 'check-in' : 'check-out',
                ' at ',
                when(e.punch.at),
              )
            : null,
          e.packetId ? h('small', { class: 'packet' }, 'packet ', short(e.packetId, 8)) : null,
        ],
      },
      {
        header: 'Review',
        cell: (e) => [reviewCell(e.review), review ? review(e) : null],
      },
    ],
    rows,
    'No fraud events match.',
    'fraud-events',
  );
}

/** An ISO instant as a datetime-local input's value, in the browser's time zone. */
function localInput(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

function render(ctx: PageContext): void {
  const names = NameBook.of(ctx);
  const type = h(
    'select',
    { name: 'type' },
    h('option', { value: '' }, 'Any type'),
    h('option', { value: REFUSED }, 'Refused punch (any of the four)'),
    FRAUD_EVENT_TYPES.map((t) => h('option', { value: t }, t)),
  );
  const review = h(
    'select',
    { name: 'review' },
    h('option', { value: '' }, 'Any review state'),
    h('option', { value: 'unreviewed' }, 'Unreviewed'),
    h('option', { value: 'dismissed' }, 'Dismissed'),
    h('option', { value: 'confirmed' }, 'Confirmed'),
  );
  const inputs = {
    type,
    review,
    deviceId: h('input', { name: 'deviceId', maxlength: 64 }),
    workerId: h('input', { name: 'workerId', maxlength: 64 }),
    siteId: h('input', { name: 'siteId', maxlength: 64 }),
    from: h('input', { name: 'from', type: 'datetime-local', step: 1 }),
    to: h('input', { name: 'to', type: 'datetime-local', step: 1 }),
  };
  // the payroll's link to a worker's refused punches
  if (ctx.query.get('refused') && !ctx.query.get('type')) type.value = REFUSED;
  for (const name of FILTERS) {
    const value = ctx.query.get(name);
    if (value) inputs[name].value = name === 'from' || name === 'to' ? localInput(value) : value;
  }
  const filters = (): Record<string, string | undefined> => {
    const out: Record<string, string | undefined> = {};
    for (const name of FILTERS) {
      const value = inputs[name].value.trim();
      if (!value) continue;
      // a datetime-local value (no zone) is the browser's local time; the API takes UTC
      out[name] = name === 'from' || name === 'to' ? new Date(value).toISOString() : value;
    }
    return out;
  };
  /**
   * A page of each refusal type still going (its cursor kept in the console's cursor, a JSON
   * map), merged newest first: a page holds up to four API pages.
   */
  const loadRefused = async (
    query: Record<string, string | undefined>,
    cursor: string | undefined,
  ): Promise<{ rows: FraudEvent[]; next?: string }> => {
    const cursors: Record<string, string> = cursor
      ? (JSON.parse(cursor) as Record<string, string>)
      : {};
    const types = cursor ? Object.keys(cursors) : [...REFUSED_PUNCH_TYPES];
    const pages = await Promise.all(
      types.map(async (t) => {
        const res = await ctx.api.get<FraudEvent[]>('/api/v5/fraud/events', {
          ...query,
          type: t,
          limit: PAGE_SIZE,
          cursor: cursors[t],
        });
        return { type: t, rows: res.data, next: res.headers.get('x-next-cursor') ?? undefined };
      }),
    );
    const next: Record<string, string> = {};
    for (const page of pages) if (page.next) next[page.type] = page.next;
    return {
      rows: pages.flatMap((p) => p.rows).sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0)),
      next: Object.keys(next).length ? JSON.stringify(next) : undefined,
    };
  };
  const list = pagedList<FraudEvent>({
    label: 'Fraud event',
    pageSize: PAGE_SIZE,
    load: async (cursor) => {
      const query = filters();
      if (query.type === REFUSED) return loadRefused(query, cursor);
      const res = await ctx.api.get<FraudEvent[]>('/api/v5/fraud/events', {
        ...query,
        limit: PAGE_SIZE,
        cursor,
      });
      return { rows: res.data, next: res.headers.get('x-next-cursor') ?? undefined };
    },
    // a tampered event cannot be reviewed (503 fraud_event_tampered): no form
    render: (rows) =>
      fraudTable(rows, names, (event) =>
        event.integrity === 'tampered'
          ? 'Changed outside the server: not reviewable'
          : reviewForm(ctx, event, () => list.reload()),
      ),
  });
  ctx.main.append(
    h('h1', {}, 'Fraud'),
    h(
      'form',
      {
        class: 'grid filters',
        'aria-label': 'Filter fraud events',
        onsubmit: (e: Event) => {
          e.preventDefault();
          list.reset();
        },
      },
      field('Type', inputs.type),
      field('Review', inputs.review),
      field('Device ID', inputs.deviceId),
      field('Worker ID', inputs.workerId),
      field('Site ID', inputs.siteId),
      field(`From (local time, ${localZone()})`, inputs.from),
      field(`To (local time, ${localZone()})`, inputs.to),
      h('button', { type: 'submit' }, 'Apply filters'),
    ),
    list.element,
  );
  list.reload();
}
