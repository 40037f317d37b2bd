import { KeysetPager, Page, PageContext } from '../context';
import {
  action,
  badge,
  field,
  formValue,
  h,
  link,
  panel,
  section,
  short,
  table,
  when,
} from '../dom';
import { pagerNav } from '../pager';
import { qrDataUrl } from '../qr';
import { FraudEvent, Site, Thekedar, Worker } from '../types';
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
  const sites = h('div', { class: 'panel' });
  const thekedars = h('div', { class: 'panel' });
  const workers = h('div', { class: 'panel' });
  const siteFilter = h('select', { name: 'siteId' }, h('option', { value: '' }, 'All sites'));
  const siteChoices = h(
    'fieldset',
    { class: 'choices' },
    h('legend', {}, 'Sites the worker may check in at'),
  );
  let siteNames = new Map<string, string>();

  const loadSites = async (): Promise<void> => {
    const list = await panel(
      sites,
      async () => (await ctx.api.get<Site[]>('/api/v5/sites', { limit: 500 })).data,
      (rows) =>
        table(
          'Sites',
          [
            { header: 'Name', cell: (s) => s.name },
            { header: 'Site ID', cell: (s) => h('code', {}, s.siteId) },
            { header: 'Location', cell: (s) => `${s.geo.lat.toFixed(5)}, ${s.geo.lng.toFixed(5)}` },
            { header: 'Geofence radius', cell: (s) => `${s.radiusM} m` },
            { header: 'Time zone', cell: (s) => s.timeZone ?? '—' },
            { header: 'Ledger', cell: (s) => link(`#/ledgers/${s.siteId}`, 'Open ledger') },
          ],
          rows,
          'No sites yet.',
        ),
    );
    siteNames = new Map((list ?? []).map((s) => [s.siteId, s.name]));
    siteFilter.replaceChildren(
      h('option', { value: '' }, 'All sites'),
      ...(list ?? []).map((s) => h('option', { value: s.siteId }, s.name)),
    );
    siteChoices.replaceChildren(
      h('legend', {}, 'Sites the worker may check in at'),
      ...(list ?? []).map((s) =>
        h(
          'label',
          { class: 'choice' },
          h('input', { type: 'checkbox', name: 'siteIds', value: s.siteId }),
          ` ${s.name}`,
        ),
      ),
      ...(list?.length ? [] : [h('p', { class: 'hint' }, 'Create a site first.')]),
    );
  };

  const thekedarPager = new KeysetPager();
  const loadThekedars = (): void => {
    void panel(
      thekedars,
      async () =>
        (
          await ctx.api.get<Thekedar[]>('/api/v5/thekedars', {
            limit: PAGE_SIZE,
            after: thekedarPager.current,
          })
        ).data,
      (rows) => [
        table(
          'Thekedars',
          [
            { header: 'Name', cell: (t) => t.name },
            { header: 'Phone', cell: (t) => t.phone },
            { header: 'Trust', cell: (t) => String(t.trustScore) },
            { header: 'Created', cell: (t) => when(t.createdAt) },
          ],
          rows,
          'No thekedars yet.',
        ),
        pagerNav(
          'Thekedar list',
          thekedarPager,
          rows.length === PAGE_SIZE ? rows[rows.length - 1].thekedarId : undefined,
          loadThekedars,
        ),
      ],
    );
  };

  const workerPager = new KeysetPager();
  const loadWorkers = (): void => {
    void panel(
      workers,
      async () =>
        (
          await ctx.api.get<Worker[]>('/api/v5/workers', {
            limit: PAGE_SIZE,
            after: workerPager.current,
            siteId: siteFilter.value,
          })
        ).data,
      (rows) => [
        table(
          'Workers',
          [
            { header: 'Name', cell: (w) => link(`#/workers/${w.workerId}`, w.name) },
            { header: 'Phone', cell: (w) => w.phone },
            {
              header: 'Sites',
              cell: (w) => w.siteIds.map((id) => siteNames.get(id) ?? id).join(', '),
            },
            { header: 'Trust', cell: (w) => String(w.trustScore) },
            { header: 'Onboarded by', cell: (w) => w.sponsorKind },
            { header: 'Created', cell: (w) => when(w.createdAt) },
          ],
          rows,
          'No workers here yet.',
        ),
        pagerNav(
          'Worker list',
          workerPager,
          rows.length === PAGE_SIZE ? rows[rows.length - 1].workerId : undefined,
          loadWorkers,
        ),
      ],
    );
  };
  siteFilter.addEventListener('change', () => {
    workerPager.reset();
    loadWorkers();
  });

  const enrollment = h('div', { class: 'panel', 'aria-live': 'polite' });

  ctx.main.append(
    h('h1', {}, 'Workforce'),
    section(
      'Sites',
      sites,
      siteForm(ctx, () => void loadSites()),
    ),
    section('Thekedars', thekedars, thekedarForm(ctx, enrollment, loadThekedars)),
    section(
      'Workers',
      h('div', { class: 'inline' }, field('Show workers of', siteFilter)),
      workers,
      workerForm(ctx, siteChoices, enrollment, loadWorkers),
    ),
    section('Enrollment code', enrollment),
  );
  void loadSites().then(loadWorkers);
  loadThekedars();
}

function siteForm(ctx: PageContext, reload: () => void): HTMLElement {
  const status = h('div', { class: 'status' });
  const button = h('button', { type: 'submit' }, 'Create site');
  const form: HTMLFormElement = h(
    'form',
    {
      class: 'grid',
      onsubmit: (e: Event) => {
        e.preventDefault();
        void action(status, button, async () => {
          const created = (
            await ctx.api.post<{ siteId: string }>('/api/v5/sites', {
              name: formValue(form, 'name'),
              geo: { lat: Number(formValue(form, 'lat')), lng: Number(formValue(form, 'lng')) },
              radiusM: Number(formValue(form, 'radiusM')),
            })
          ).data;
          form.reset();
          reload();
          return h(
            'p',
            { class: 'ok', role: 'status' },
            'Site created: ',
            h('code', {}, created.siteId),
          );
        });
      },
    },
    h('h3', {}, 'New site'),
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
    button,
    status,
  );
  return form;
}

function thekedarForm(ctx: PageContext, enrollment: HTMLElement, reload: () => void): HTMLElement {
  const status = h('div', { class: 'status' });
  const button = h('button', { type: 'submit' }, 'Create thekedar');
  const form: HTMLFormElement = h(
    'form',
    {
      class: 'grid',
      onsubmit: (e: Event) => {
        e.preventDefault();
        void action(status, button, async () => {
          const name = formValue(form, 'name');
          const created = (
            await ctx.api.post<{ thekedarId: string; enrollmentCode: string }>(
              '/api/v5/thekedars',
              {
                name,
                phone: formValue(form, 'phone'),
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
          );
          return h(
            'p',
            { class: 'ok', role: 'status' },
            `Thekedar ${name} created; the enrollment QR is below.`,
          );
        });
      },
    },
    h('h3', {}, 'New thekedar'),
    field('Name', h('input', { name: 'name', required: true, maxlength: 200 })),
    field('Phone', h('input', { name: 'phone', type: 'tel', required: true, maxlength: 20 })),
    button,
    status,
  );
  return form;
}

function workerForm(
  ctx: PageContext,
  siteChoices: HTMLElement,
  enrollment: HTMLElement,
  reload: () => void,
): HTMLElement {
  const status = h('div', { class: 'status' });
  const button = h('button', { type: 'submit' }, 'Create worker');
  const form: HTMLFormElement = h(
    'form',
    {
      class: 'grid',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const siteIds = [
          ...form.querySelectorAll<HTMLInputElement>('input[name=siteIds]:checked'),
        ].map((i) => i.value);
        void action(status, button, async () => {
          const name = formValue(form, 'name');
          const created = (
            await ctx.api.post<{ workerId: string; enrollmentCode: string }>('/api/v5/workers', {
              name,
              phone: formValue(form, 'phone'),
              siteIds,
            })
          ).data;
          form.reset();
          reload();
          await showEnrollment(
            enrollment,
            'worker',
            name,
            created.workerId,
            created.enrollmentCode,
          );
          return h(
            'p',
            { class: 'ok', role: 'status' },
            `Worker ${name} created; the enrollment QR is below.`,
          );
        });
      },
    },
    h('h3', {}, 'New worker'),
    field('Name', h('input', { name: 'name', required: true, maxlength: 200 })),
    field('Phone', h('input', { name: 'phone', type: 'tel', required: true, maxlength: 20 })),
    siteChoices,
    button,
    status,
  );
  return form;
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
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, kind === 'worker' ? 'Worker' : 'Thekedar'),
      h('dd', {}, kind === 'worker' ? link(`#/workers/${personId}`, name) : name),
      h('dt', {}, 'Enrollment code'),
      h('dd', {}, h('code', { class: 'enrollment-code' }, code)),
    ),
  );
}

function renderWorker(ctx: PageContext): void {
  const workerId = ctx.params[0] ?? '';
  const detail = h('div', { class: 'panel' });
  const events = h('div', { class: 'panel' });
  ctx.main.append(
    h(
      'p',
      { class: 'crumbs' },
      ctx.can('admin') ? link('#/workforce', 'Workforce') : 'Workforce',
      ' / worker',
    ),
    h('h1', {}, 'Worker'),
    detail,
    ...(ctx.can('admin') ? [section('Fraud events of this worker', events)] : []),
  );
  void panel(
    detail,
    async () => (await ctx.api.get<Worker>(`/api/v5/workers/${encodeURIComponent(workerId)}`)).data,
    (w) =>
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Name'),
        h('dd', {}, w.name),
        h('dt', {}, 'Worker ID'),
        h('dd', {}, h('code', {}, w.workerId)),
        h('dt', {}, 'Phone'),
        h('dd', {}, w.phone),
        h('dt', {}, 'Sites'),
        h(
          'dd',
          {},
          w.siteIds.map((id) => h('span', {}, link(`#/ledgers/${id}`, short(id, 24)), ' ')),
        ),
        h('dt', {}, 'Trust score'),
        h('dd', {}, badge(String(w.trustScore), w.trustScore >= 40 ? 'ok' : 'bad')),
        h('dt', {}, 'Onboarded by'),
        h('dd', {}, w.sponsorKind, w.thekedarId ? [' ', h('code', {}, w.thekedarId)] : null),
        h('dt', {}, 'Created'),
        h('dd', {}, when(w.createdAt)),
      ),
  );
  if (ctx.can('admin')) {
    void panel(
      events,
      async () =>
        (await ctx.api.get<FraudEvent[]>('/api/v5/fraud/events', { workerId, limit: 50 })).data,
      (rows) => fraudTable(rows),
    );
  }
}
