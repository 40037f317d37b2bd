import { actionForm, facts, lastKey, loadSites, pagedList, success } from '../components';
import { Page, PageContext } from '../context';
import {
  action,
  badge,
  Child,
  field,
  formValue,
  h,
  link,
  panel,
  section,
  table,
  when,
} from '../dom';
import { qrDataUrl } from '../qr';
import {
  FraudEvent,
  Site,
  Thekedar,
  Worker,
  WorkerDetail,
  WorkerDevice,
  WorkerEnrollmentCode,
} from '../types';
import { trustBadge } from './devices';
import { NameBook } from '../names';
import { fraudTable } from './fraud';

const PAGE_SIZE = 20;

export const workforcePage: Page = {
  id: 'workforce',
  title: 'Workforce',
  roles: ['admin'],
  render,
};

/** One worker, reached from the workers table and from fraud events. */
export const workerPage: Page = {
  id: 'workers',
  title: 'Worker',
  roles: ['admin', 'auditor'],
  render: renderWorker,
};

function render(ctx: PageContext): void {
  const names = NameBook.of(ctx);
  const siteFilter = h('select', { name: 'siteId' }, h('option', { value: '' }, 'All sites'));
  const statusFilter = h(
    'select',
    { name: 'status' },
    h('option', { value: '' }, 'Active and inactive'),
    h('option', { value: 'active' }, 'Active'),
    h('option', { value: 'inactive' }, 'Inactive (left)'),
  );
  const siteChoices = h(
    'fieldset',
    { class: 'choices' },
    h('legend', {}, 'Sites the worker may check in at'),
  );
  let siteNames = new Map<string, string>();
  /**
   * Every site, for the thekedar forms' choices (filled with the site pickers); undefined until
   * they loaded, so an editor cannot save a list built from nothing.
   */
  let siteList: Site[] | undefined;
  const thekedarSiteChoices = h('fieldset', { class: 'choices' });

  // the table pages itself, as the other lists; the pickers and names take every site
  const sites = pagedList<Site>({
    label: 'Site list',
    pageSize: PAGE_SIZE,
    load: async (after) => {
      const rows = (await ctx.api.get<Site[]>('/api/v5/sites', { limit: PAGE_SIZE, after })).data;
      return { rows, next: lastKey(rows, PAGE_SIZE, (s) => s.siteId) };
    },
    render: (rows) =>
      table(
        'Sites',
        [
          { header: 'Name', cell: (s) => s.name },
          { header: 'Site ID', cell: (s) => h('code', {}, s.siteId) },
          { header: 'Location', cell: (s) => `${s.geo.lat.toFixed(5)}, ${s.geo.lng.toFixed(5)}` },
          { header: 'Geofence radius', cell: (s) => `${s.radiusM} m` },
          { header: 'Time zone', cell: (s) => s.timeZone ?? '—' },
          {
            header: 'Records',
            cell: (s) => [
              link(`#/ledgers/${s.siteId}`, 'Ledger'),
              ' · ',
              link(`#/timesheets/${s.siteId}`, 'Timesheets'),
            ],
          },
        ],
        rows,
        'No sites yet.',
      ),
  });

  const refreshSiteChoices = async (): Promise<void> => {
    let list: Site[];
    try {
      list = await loadSites(ctx);
    } catch {
      // the table's panel shows the API's error; the pickers stay as they were
      return;
    }
    siteNames = new Map(list.map((s) => [s.siteId, s.name]));
    siteList = list;
    thekedarSiteChoices.replaceChildren(...thekedarSiteFields(list, []));
    const chosen = siteFilter.value;
    siteFilter.replaceChildren(
      h('option', { value: '' }, 'All sites'),
      ...list.map((s) => h('option', { value: s.siteId, selected: s.siteId === chosen }, s.name)),
    );
    siteChoices.replaceChildren(
      h('legend', {}, 'Sites the worker may check in at'),
      ...list.map((s) =>
        h(
          'label',
          { class: 'choice' },
          h('input', { type: 'checkbox', name: 'siteIds', value: s.siteId }),
          ` ${s.name}`,
        ),
      ),
      ...(list.length ? [] : [h('p', { class: 'hint' }, 'Create a site first.')]),
    );
  };
  const refreshSites = (): Promise<void> => {
    sites.reload();
    return refreshSiteChoices();
  };

  const thekedars = pagedList<Thekedar>({
    label: 'Thekedar list',
    pageSize: PAGE_SIZE,
    load: async (after) => {
      const rows = (await ctx.api.get<Thekedar[]>('/api/v5/thekedars', { limit: PAGE_SIZE, after }))
        .data;
      return { rows, next: lastKey(rows, PAGE_SIZE, (t) => t.thekedarId) };
    },
    render: (rows) =>
      table(
        'Thekedars',
        [
          { header: 'Name', cell: (t) => t.name },
          { header: 'Phone', cell: (t) => t.phone },
          { header: 'Trust', cell: (t) => String(t.trustScore) },
          {
            header: 'Sites',
            cell: (t) =>
              h(
                'span',
                { class: 'thekedar-sites' },
                t.siteIds.length
                  ? t.siteIds.map((id) => siteNames.get(id) ?? id).join(', ')
                  : badge('none: onboards nowhere', 'warn'),
              ),
          },
          { header: 'Created', cell: (t) => when(t.createdAt) },
          {
            header: 'Change sites',
            cell: (t): HTMLElement =>
              thekedarSitesEditor(
                ctx,
                t,
                () => siteList,
                () => thekedars.reload(),
              ),
          },
        ],
        rows,
        'No thekedars yet.',
      ),
  });

  const enrollment = h('div', { class: 'panel', 'aria-live': 'polite' });

  const workers = pagedList<Worker>({
    label: 'Worker list',
    pageSize: PAGE_SIZE,
    load: async (after) => {
      const rows = (
        await ctx.api.get<Worker[]>('/api/v5/workers', {
          limit: PAGE_SIZE,
          after,
          siteId: siteFilter.value,
          status: statusFilter.value,
        })
      ).data;
      return { rows, next: lastKey(rows, PAGE_SIZE, (w) => w.workerId) };
    },
    render: (rows) =>
      table(
        'Workers',
        [
          { header: 'Name', cell: (w) => link(`#/workers/${w.workerId}`, w.name) },
          { header: 'Phone', cell: (w) => w.phone },
          {
            header: 'Sites',
            cell: (w) => w.siteIds.map((id) => siteNames.get(id) ?? id).join(', '),
          },
          { header: 'Status', cell: (w) => statusBadge(w) },
          { header: 'Trust', cell: (w) => String(w.trustScore) },
          {
            header: 'Onboarded by',
            cell: (w) =>
              w.thekedarId ? ['thekedar ', names.show('thekedar', w.thekedarId)] : w.sponsorKind,
          },
          { header: 'Created', cell: (w) => when(w.createdAt) },
          {
            header: 'Enrollment',
            // an inactive worker is issued no code (403 worker_inactive): reactivate it first
            cell: (w) => (w.status === 'inactive' ? '—' : newCodeButton(ctx, w, enrollment)),
          },
        ],
        rows,
        'No workers here yet.',
      ),
  });
  siteFilter.addEventListener('change', () => workers.reset());
  statusFilter.addEventListener('change', () => workers.reset());

  ctx.main.append(
    h('h1', {}, 'Workforce'),
    section(
      'Sites',
      sites.element,
      siteForm(ctx, () => void refreshSites()),
    ),
    section(
      'Thekedars',
      thekedars.element,
      thekedarForm(ctx, thekedarSiteChoices, enrollment, thekedars.reload),
    ),
    section(
      'Workers',
      h(
        'div',
        { class: 'inline' },
        field('Show workers of', siteFilter),
        field('Status', statusFilter),
      ),
      workers.element,
      workerForm(ctx, siteChoices, enrollment, workers.reload),
    ),
    section('Enrollment code', enrollment),
  );
  // the thekedars after the sites: their Sites column names them
  void refreshSites().then(() => {
    workers.reload();
    thekedars.reload();
  });
}

function siteForm(ctx: PageContext, reload: () => void): HTMLElement {
  const zones = h(
    'datalist',
    { id: 'time-zones' },
    timeZones().map((zone) => h('option', { value: zone })),
  );
  return actionForm(
    {
      class: 'grid',
      title: 'New site',
      submit: 'Create site',
      run: async (form) => {
        const timeZone = formValue(form, 'timeZone');
        const created = (
          await ctx.api.post<{ siteId: string; timeZone: string }>('/api/v5/sites', {
            name: formValue(form, 'name'),
            geo: { lat: Number(formValue(form, 'lat')), lng: Number(formValue(form, 'lng')) },
            radiusM: Number(formValue(form, 'radiusM')),
            // empty: the server's default zone (the API validates the name)
            ...(timeZone ? { timeZone } : {}),
          })
        ).data;
        form.reset();
        reload();
        return success(
          'Site created: ',
          h('code', {}, created.siteId),
          ` (time zone ${created.timeZone})`,
        );
      },
    },
    field('Site name', h('input', { name: 'name', required: true, maxlength: 200 })),
    field(
      'Latitude',
      h('input', { name: 'lat', type: 'number', step: 'any', min: -90, max: 90, required: true }),
    ),
    field(
      'Longitude',
      h('input', { name: 'lng', type: 'number', step: 'any', min: -180, max: 180, required: true }),
    ),
    field(
      'Geofence radius (m)',
      h('input', {
        name: 'radiusM',
        type: 'number',
        min: 10,
        max: 50000,
        value: 150,
        required: true,
      }),
    ),
    field(
      'Time zone',
      h('input', {
        name: 'timeZone',
        list: 'time-zones',
        maxlength: 64,
        autocomplete: 'off',
        spellcheck: 'false',
        placeholder: 'Asia/Kolkata',
      }),
      'IANA name; timesheet days are local to it. Empty for the server default.',
    ),
    zones,
  );
}

/** The browser's IANA zones, for the time-zone field's suggestions. */
function timeZones(): string[] {
  const intl = Intl as typeof Intl & { supportedValuesOf?: (key: string) => string[] };
  return intl.supportedValuesOf?.('timeZone') ?? [];
}

/**
 * The checkboxes of a thekedar's sites (`checked`: those it has), with a legend that says what
 * they mean: its signed requests onboard workers and read timesheets there only.
 */
function thekedarSiteFields(list: Site[], checked: string[]): HTMLElement[] {
  return [
    h('legend', {}, 'Sites the thekedar works on'),
    ...siteBoxes(list, checked),
    h(
      'p',
      { class: 'hint' },
      list.length
        ? 'It onboards workers and reads timesheets at these only; none: nowhere yet.'
        : 'Create a site first.',
    ),
  ];
}

/**
 * One checkbox a site, those in `checked` checked; an id in `checked` the list does not have
 * (a site the list read missed) gets a checked box of its own, named by its id, so saving
 * keeps it unless it is unchecked.
 */
function siteBoxes(list: Site[], checked: readonly string[]): HTMLElement[] {
  const known = new Set(list.map((s) => s.siteId));
  const box = (siteId: string, label: string, on: boolean): HTMLElement =>
    h(
      'label',
      { class: 'choice' },
      h('input', { type: 'checkbox', name: 'siteIds', value: siteId, checked: on }),
      ` ${label}`,
    );
  return [
    ...list.map((s) => box(s.siteId, s.name, checked.includes(s.siteId))),
    ...checked
      .filter((id) => !known.has(id))
      .map((id) => box(id, `${id} (not in the site list)`, true)),
  ];
}

/** The submit button of a form (actionForm's), to hold it disabled while its choices load. */
function submitButton(form: HTMLFormElement): HTMLButtonElement | null {
  return form.querySelector<HTMLButtonElement>('button[type=submit]');
}

function checkedSites(form: HTMLFormElement): string[] {
  return [...form.querySelectorAll<HTMLInputElement>('input[name=siteIds]:checked')].map(
    (i) => i.value,
  );
}

/**
 * An admin's change of a thekedar's sites (PATCH /api/v5/thekedars/:thekedarId): the boxes
 * of every site, those it has checked; saved, the list replaces the one before.
 */
function thekedarSitesEditor(
  ctx: PageContext,
  thekedar: Thekedar,
  sites: () => Site[] | undefined,
  reload: () => void,
): HTMLElement {
  const choices = h('fieldset', { class: 'choices' });
  const form = actionForm(
    {
      submit: 'Save sites',
      run: async (form) => {
        await ctx.api.patch<Thekedar>(
          `/api/v5/thekedars/${encodeURIComponent(thekedar.thekedarId)}`,
          { siteIds: checkedSites(form) },
        );
        reload();
        return success(`Sites of ${thekedar.name} saved.`);
      },
    },
    choices,
  );
  const editor: HTMLDetailsElement = h(
    'details',
    {
      // built when opened: the site list is the page's latest; while it has not loaded, no
      // save (an empty list would take every site away)
      ontoggle: () => {
        if (!editor.open) return;
        const list = sites();
        const button = submitButton(form);
        if (button) button.disabled = !list;
        choices.replaceChildren(
          ...(list
            ? thekedarSiteFields(list, thekedar.siteIds)
            : [
                h('legend', {}, 'Sites the thekedar works on'),
                h(
                  'p',
                  { class: 'hint' },
                  'The sites could not be read, so they cannot be changed now: reload the page.',
                ),
              ]),
        );
      },
    },
    h('summary', { 'aria-label': `Change the sites of ${thekedar.name}` }, 'Change'),
    form,
  );
  return editor;
}

function thekedarForm(
  ctx: PageContext,
  siteChoices: HTMLElement,
  enrollment: HTMLElement,
  reload: () => void,
): HTMLElement {
  return actionForm(
    {
      class: 'grid',
      title: 'New thekedar',
      submit: 'Create thekedar',
      run: async (form) => {
        const name = formValue(form, 'name');
        const created = (
          await ctx.api.post<{ thekedarId: string; enrollmentCode: string; expiresAt: string }>(
            '/api/v5/thekedars',
            {
              name,
              phone: formValue(form, 'phone'),
              siteIds: checkedSites(form),
            },
          )
        ).data;
        form.reset();
        reload();
        await showEnrollment(
          enrollment,
          'thekedar',
          name,
          created.thekedarId,
          created.enrollmentCode,
          created.expiresAt,
        );
        return success(`Thekedar ${name} created; the enrollment QR is below.`);
      },
    },
    field('Name', h('input', { name: 'name', required: true, maxlength: 200 })),
    field('Phone', h('input', { name: 'phone', type: 'tel', required: true, maxlength: 20 })),
    siteChoices,
  );
}

function workerForm(
  ctx: PageContext,
  siteChoices: HTMLElement,
  enrollment: HTMLElement,
  reload: () => void,
): HTMLElement {
  return actionForm(
    {
      class: 'grid',
      title: 'New worker',
      submit: 'Create worker',
      run: async (form) => {
        const siteIds = [
          ...form.querySelectorAll<HTMLInputElement>('input[name=siteIds]:checked'),
        ].map((i) => i.value);
        const name = formValue(form, 'name');
        const created = (
          await ctx.api.post<{ workerId: string; enrollmentCode: string; expiresAt: string }>(
            '/api/v5/workers',
            {
              name,
              phone: formValue(form, 'phone'),
              siteIds,
            },
          )
        ).data;
        form.reset();
        reload();
        await showEnrollment(
          enrollment,
          'worker',
          name,
          created.workerId,
          created.enrollmentCode,
          created.expiresAt,
        );
        return success(`Worker ${name} created; the enrollment QR is below.`);
      },
    },
    field('Name', h('input', { name: 'name', required: true, maxlength: 200 })),
    field('Phone', h('input', { name: 'phone', type: 'tel', required: true, maxlength: 20 })),
    siteChoices,
  );
}

/**
 * A worker's "New enrollment code" (a lost phone, an expired code, a closed tab): the new code's
 * QR is shown as at creation; the worker's earlier unused codes stop working, and a phone
 * registered already keeps working.
 */
function newCodeButton(ctx: PageContext, worker: Worker, out: HTMLElement): HTMLElement {
  const status = h('span', { class: 'status' });
  const button: HTMLButtonElement = h(
    'button',
    {
      type: 'button',
      'aria-label': `New enrollment code for ${worker.name}`,
      onclick: () =>
        void action(status, button, async () => {
          const issued = (
            await ctx.api.post<WorkerEnrollmentCode>(
              `/api/v5/workers/${encodeURIComponent(worker.workerId)}/enrollment-code`,
              undefined,
            )
          ).data;
          await showEnrollment(
            out,
            'worker',
            worker.name,
            issued.workerId,
            issued.enrollmentCode,
            issued.expiresAt,
          );
          out.scrollIntoView?.({ block: 'nearest' });
          return success('New code below; earlier unused codes no longer work.');
        }),
    },
    'New enrollment code',
  );
  return h('div', {}, button, status);
}

/**
 * The code a phone trades for a device identity (POST /api/v5/device/register), as a QR the
 * worker app scans: JSON {"type":"mdai.enrollment","enrollmentCode","api"}.
 */
async function showEnrollment(
  out: HTMLElement,
  kind: 'worker' | 'thekedar',
  name: string,
  personId: string,
  code: string,
  expiresAt?: string,
): Promise<void> {
  const payload = JSON.stringify({
    type: 'mdai.enrollment',
    enrollmentCode: code,
    api: location.origin,
  });
  const src = await qrDataUrl(payload);
  out.replaceChildren(
    h(
      'figure',
      { class: 'qr' },
      h('img', {
        src,
        alt: `Enrollment QR code for ${kind} ${name}`,
        width: 320,
        height: 320,
        'data-person-id': personId,
      }),
      h(
        'figcaption',
        {},
        `Scan with the worker app on ${name}'s phone. Single use; shown only now.`,
      ),
    ),
    facts([
      [
        kind === 'worker' ? 'Worker' : 'Thekedar',
        kind === 'worker' ? link(`#/workers/${personId}`, name) : name,
      ],
      ['Enrollment code', h('code', { class: 'enrollment-code' }, code)],
      ...(expiresAt ? [['Expires', when(expiresAt)] as [string, Child]] : []),
    ]),
  );
}

/** A worker's status: active, or inactive (it left) since when. */
function statusBadge(worker: Worker): HTMLElement {
  return worker.status === 'inactive' ? badge('inactive', 'bad') : badge('active', 'ok');
}

function renderWorker(ctx: PageContext): void {
  const workerId = ctx.params[0] ?? '';
  const path = `/api/v5/workers/${encodeURIComponent(workerId)}`;
  const detail = h('div', { class: 'panel' });
  const events = h('div', { class: 'panel' });
  const phones = h('div', { class: 'panel' });
  const names = NameBook.of(ctx);
  ctx.main.append(
    h(
      'p',
      { class: 'crumbs' },
      ctx.can('admin') ? link('#/workforce', 'Workforce') : 'Workforce',
      ' / worker',
    ),
    h('h1', {}, 'Worker'),
    detail,
    ...(ctx.can('admin')
      ? [section('Phones of this worker', phones), section('Fraud events of this worker', events)]
      : []),
  );
  const load = (): void => {
    void panel(
      detail,
      async () => (await ctx.api.get<WorkerDetail>(path)).data,
      (w) => [
        facts([
          ['Name', w.name],
          ['Worker ID', h('code', {}, w.workerId)],
          ['Phone', w.phone],
          [
            'Status',
            // words, not a badge: the facts hold no verdict badge (the standing is no verdict)
            h(
              'span',
              { 'data-status': w.status },
              w.status === 'inactive' ? 'inactive (left)' : 'active',
              w.statusChangedAt ? [' since ', when(w.statusChangedAt)] : null,
            ),
          ],
          [
            'Sites',
            w.siteIds.map((id) => h('span', {}, names.show('site', id, `#/ledgers/${id}`), ' ')),
          ],
          // the worker's own record (what a new phone starts from), not any phone's score now:
          // a blocked phone's live score is 0 while this stays; each phone's is under Phones
          [
            'Standing (baseline trust)',
            h(
              'span',
              { class: 'standing', 'data-standing': String(w.trustScore) },
              String(w.trustScore),
              h(
                'span',
                { class: 'hint' },
                ctx.can('admin')
                  ? " — the worker's record; each phone's live score is under Phones"
                  : " — the worker's record, not a phone's live score",
              ),
            ),
          ],
          [
            'Onboarded by',
            [
              w.sponsorKind,
              // a thekedar's record is the admin's to read: an auditor sees its id
              w.thekedarId
                ? [
                    ' ',
                    ctx.can('admin')
                      ? names.show('thekedar', w.thekedarId)
                      : h('code', {}, w.thekedarId),
                  ]
                : null,
            ],
          ],
          ['Created', when(w.createdAt)],
        ]),
        ...(ctx.can('admin') ? [sitesForm(ctx, w, load), statusForm(ctx, w, load)] : []),
        table(
          'Worker history',
          [
            { header: 'When', cell: (e) => when(e.at) },
            { header: 'Action', cell: (e) => e.action.replace('_', ' ') },
            { header: 'Actor', cell: (e) => h('code', {}, e.actor) },
            { header: 'Reason', cell: (e) => e.reason ?? '—' },
            {
              header: 'Sites after',
              cell: (e) =>
                e.siteIds ? e.siteIds.map((id) => h('span', {}, names.show('site', id), ' ')) : '—',
            },
            {
              // phone_changed: where the worker's pay goes, both numbers masked by the server
              header: 'Phone',
              cell: (e) =>
                e.phone ? h('code', {}, `${e.previousPhone ?? '?'} → ${e.phone}`) : '—',
            },
          ],
          w.events,
          'No status, site or phone changes.',
        ),
      ],
    );
  };
  load();
  if (ctx.can('admin')) {
    void panel(
      phones,
      async () =>
        (
          await ctx.api.get<WorkerDevice[]>('/api/v5/devices', {
            workerId,
            limit: 50,
            trust: 'live',
          })
        ).data,
      (rows) =>
        table(
          'Phones registered for this worker',
          [
            {
              header: 'Device',
              cell: (d) => link(`#/devices/${encodeURIComponent(d.deviceId)}`, d.deviceId),
            },
            { header: 'Phone model', cell: (d) => `${d.fingerprint.model} (${d.fingerprint.os})` },
            {
              header: 'Trust now',
              cell: (d) => (d.liveTrustScore === undefined ? '–' : trustBadge(d.liveTrustScore)),
            },
            {
              header: 'Status',
              cell: (d) => (d.isBlocked ? badge('blocked', 'bad') : badge('active', 'ok')),
            },
            { header: 'Registered', cell: (d) => when(d.createdAt) },
            { header: 'Last seen', cell: (d) => when(d.lastSeen) },
          ],
          rows,
          'No phone registered yet.',
        ),
    );
    void panel(
      events,
      async () =>
        (await ctx.api.get<FraudEvent[]>('/api/v5/fraud/events', { workerId, limit: 50 })).data,
      (rows) => fraudTable(rows, names),
    );
  }
}

/**
 * The worker's sites, changed with PATCH /api/v5/workers/:workerId {siteIds}: a site added
 * claims the phone there (409 worker_exists when another worker has it: nothing changed); the
 * phones get the new sites at their next token refresh, and a removed site is refused for the
 * punches recorded after the change (one recorded there before it is still taken).
 */
function sitesForm(ctx: PageContext, worker: WorkerDetail, reload: () => void): HTMLElement {
  const choices = h('fieldset', { class: 'choices' }, h('legend', {}, 'Sites'));
  const form = actionForm(
    {
      submit: 'Save sites',
      run: async (form) => {
        await ctx.api.patch(`/api/v5/workers/${encodeURIComponent(worker.workerId)}`, {
          siteIds: checkedSites(form),
        });
        reload();
        return null;
      },
    },
    choices,
    h(
      'p',
      { class: 'hint' },
      "The worker's phones get the new sites at their next token refresh; punches recorded at a site removed after this change are refused; punches recorded there before it (a phone that has not synced yet) are still taken, and the days already worked there stay.",
    ),
  );
  // no save until the sites loaded: an empty list would take every site away
  const button = submitButton(form);
  if (button) button.disabled = true;
  const fill = async (): Promise<void> => {
    let list: Site[];
    try {
      list = await loadSites(ctx);
    } catch {
      choices.append(
        h(
          'p',
          { class: 'hint' },
          'The sites could not be read, so they cannot be changed now: reload the page.',
        ),
      );
      return;
    }
    choices.replaceChildren(
      h('legend', {}, 'Sites the worker may check in at'),
      ...siteBoxes(list, worker.siteIds),
    );
    if (button) button.disabled = false;
  };
  void fill();
  return section('Change sites', form);
}

/**
 * Deactivate a worker who left, or reactivate one who is back, with a reason (POST
 * /api/v5/workers/:workerId/{deactivate,reactivate}): an inactive worker's phones are refused,
 * its number is free for another worker, its history stays.
 */
function statusForm(ctx: PageContext, worker: WorkerDetail, reload: () => void): HTMLElement {
  const inactive = worker.status === 'inactive';
  const verb = inactive ? 'reactivate' : 'deactivate';
  const Verb = inactive ? 'Reactivate' : 'Deactivate';
  return section(
    `${Verb} this worker`,
    actionForm(
      {
        submit: `${Verb} worker`,
        danger: !inactive,
        run: async (form) => {
          await ctx.api.post(`/api/v5/workers/${encodeURIComponent(worker.workerId)}/${verb}`, {
            reason: formValue(form, 'reason'),
          });
          reload();
          return null;
        },
      },
      field(
        `Reason to ${verb}`,
        h('input', { name: 'reason', required: true, minlength: 3, maxlength: 500 }),
      ),
      h(
        'p',
        { class: 'hint' },
        inactive
          ? 'Its phones sync again; its phone number is claimed again at its sites (refused if another worker has it now).'
          : 'Its phones can no longer sync or refresh their token; its phone number becomes free for another worker; its days worked stay.',
      ),
    ),
  );
}
