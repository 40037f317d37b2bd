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
import { Kiosk, KioskEvent } from '../types';

const PAGE_SIZE = 20;

export const kiosksPage: Page = {
  id: 'kiosks',
  title: 'Kiosks',
  roles: ['admin', 'provisioner'],
  render: (ctx) => (ctx.params[0] ? renderKiosk(ctx, ctx.params[0]) : renderList(ctx)),
};

function renderList(ctx: PageContext): void {
  const pager = new KeysetPager();
  const list = h('div', { class: 'panel' });
  const search = h('input', { type: 'search', name: 'prefix', maxlength: 128 });
  search.value = ctx.query.get('prefix') ?? '';
  const reload = (): void => {
    void panel(
      list,
      async () =>
        (
          await ctx.api.get<Kiosk[]>('/api/kiosks', {
            limit: PAGE_SIZE,
            after: pager.current,
            prefix: search.value.trim(),
          })
        ).data,
      (kiosks) => [
        table(
          'Registered kiosks',
          [
            {
              header: 'Device ID',
              cell: (k) => link(`#/kiosks/${encodeURIComponent(k.device_id)}`, k.device_id),
            },
            { header: 'Status', cell: (k) => statusBadge(k.status) },
            { header: 'Key fingerprint', cell: (k) => short(k.key_fingerprint, 16) },
            { header: 'Registered', cell: (k) => when(k.created_at) },
            { header: 'Updated', cell: (k) => when(k.updated_at) },
          ],
          kiosks,
          'No kiosks match.',
        ),
        pagerNav(
          'Kiosk list',
          pager,
          kiosks.length === PAGE_SIZE ? kiosks[kiosks.length - 1].device_id : undefined,
          reload,
        ),
      ],
    );
  };

  ctx.main.append(
    h('h1', {}, 'Kiosks'),
    section(
      'Find kiosks',
      h(
        'form',
        {
          class: 'inline',
          role: 'search',
          onsubmit: (e: Event) => {
            e.preventDefault();
            pager.reset();
            reload();
          },
        },
        field('Device ID starts with', search),
        h('button', { type: 'submit' }, 'Search'),
      ),
      list,
    ),
    registerForm(ctx, reload),
  );
  reload();
}

function registerForm(ctx: PageContext, reload: () => void): HTMLElement {
  const status = h('div', { class: 'status' });
  const button = h('button', { type: 'submit' }, 'Register kiosk');
  const form: HTMLFormElement = h(
    'form',
    {
      onsubmit: (e: Event) => {
        e.preventDefault();
        const deviceId = formValue(form, 'device_id');
        void action(status, button, async () => {
          await ctx.api.post('/api/register-device', {
            device_id: deviceId,
            public_key: formValue(form, 'public_key'),
          });
          reload();
          return h(
            'p',
            { class: 'ok', role: 'status' },
            'Registered ',
            link(`#/kiosks/${encodeURIComponent(deviceId)}`, deviceId),
            '.',
          );
        });
      },
    },
    field(
      'Device ID',
      h('input', { name: 'device_id', required: true, maxlength: 128, autocomplete: 'off' }),
      'e.g. TEE-RDKX5-0001',
    ),
    field(
      'TrustZone public key (SPKI PEM)',
      h('textarea', { name: 'public_key', rows: 6, required: true, spellcheck: 'false' }),
      'RSA, 2048 bits or more: -----BEGIN PUBLIC KEY----- …',
    ),
    button,
    status,
  );
  return section('Register a kiosk', form);
}

function statusBadge(status: Kiosk['status']): HTMLElement {
  return status === 'active' ? badge('active', 'ok') : badge('blocked', 'bad');
}

function renderKiosk(ctx: PageContext, deviceId: string): void {
  const detail = h('div', { class: 'panel' });
  const events = h('div', { class: 'panel' });
  const admin = ctx.can('admin');
  const load = (): void => {
    void panel(
      detail,
      async () => (await ctx.api.get<Kiosk>(`/api/kiosks/${encodeURIComponent(deviceId)}`)).data,
      (kiosk) => [
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Status'),
          h('dd', {}, statusBadge(kiosk.status)),
          h('dt', {}, 'Key fingerprint'),
          h('dd', {}, h('code', {}, kiosk.key_fingerprint)),
          h('dt', {}, 'Registered'),
          h('dd', {}, when(kiosk.created_at)),
          h('dt', {}, 'Updated'),
          h('dd', {}, when(kiosk.updated_at)),
        ),
        admin ? statusForm(ctx, kiosk, load) : null,
        admin ? rotateForm(ctx, kiosk, load) : null,
      ],
    );
    if (ctx.can('admin', 'auditor')) {
      void panel(
        events,
        async () =>
          (await ctx.api.get<KioskEvent[]>(`/api/kiosks/${encodeURIComponent(deviceId)}/events`))
            .data,
        (list) =>
          table(
            'Event history, oldest first',
            [
              { header: 'When', cell: (e) => when(e.at) },
              { header: 'Action', cell: (e) => e.action },
              { header: 'Actor', cell: (e) => h('code', {}, e.actor) },
              { header: 'Reason', cell: (e) => e.reason ?? '—' },
              { header: 'Key', cell: (e) => short(e.key_fingerprint, 16) },
              { header: 'Previous key', cell: (e) => short(e.previous_key_fingerprint, 16) },
            ],
            list,
          ),
      );
    }
  };
  ctx.main.append(
    h('p', { class: 'crumbs' }, link('#/kiosks', 'Kiosks'), ' / ', deviceId),
    h('h1', {}, `Kiosk ${deviceId}`),
    detail,
    ...(ctx.can('admin', 'auditor') ? [section('Event history', events)] : []),
  );
  load();
}

function statusForm(ctx: PageContext, kiosk: Kiosk, reload: () => void): HTMLElement {
  const blocking = kiosk.status === 'active';
  const verb = blocking ? 'Block' : 'Unblock';
  const status = h('div', { class: 'status' });
  const button = h('button', { type: 'submit', class: blocking ? 'danger' : '' }, `${verb} kiosk`);
  const form: HTMLFormElement = h(
    'form',
    {
      onsubmit: (e: Event) => {
        e.preventDefault();
        void action(status, button, async () => {
          await ctx.api.post(
            `/api/kiosks/${encodeURIComponent(kiosk.device_id)}/${blocking ? 'block' : 'unblock'}`,
            { reason: formValue(form, 'reason') },
          );
          reload();
          return null;
        });
      },
    },
    field(
      `Reason to ${verb.toLowerCase()}`,
      h('input', { name: 'reason', required: true, minlength: 3, maxlength: 500 }),
    ),
    button,
    status,
  );
  return section(`${verb} this kiosk`, form);
}

function rotateForm(ctx: PageContext, kiosk: Kiosk, reload: () => void): HTMLElement {
  const status = h('div', { class: 'status' });
  const button = h('button', { type: 'submit' }, 'Rotate key');
  const form: HTMLFormElement = h(
    'form',
    {
      onsubmit: (e: Event) => {
        e.preventDefault();
        void action(status, button, async () => {
          await ctx.api.post(`/api/kiosks/${encodeURIComponent(kiosk.device_id)}/rotate-key`, {
            public_key: formValue(form, 'public_key'),
            reason: formValue(form, 'reason'),
          });
          reload();
          return null;
        });
      },
    },
    field(
      'New public key (SPKI PEM)',
      h('textarea', { name: 'public_key', rows: 5, required: true, spellcheck: 'false' }),
    ),
    field('Reason', h('input', { name: 'reason', required: true, minlength: 3, maxlength: 500 })),
    button,
    status,
  );
  return section('Rotate the key', form);
}
