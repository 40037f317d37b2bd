import { actionForm, facts, lastKey, pagedList, reasonForm, success } from '../components';
import { Page, PageContext } from '../context';
import {
  badge,
  errorBox,
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
import { ConnectedKiosks, Kiosk, KioskEvent } from '../types';

const PAGE_SIZE = 20;

export const kiosksPage: Page = {
  id: 'kiosks',
  title: 'Kiosks',
  roles: ['admin', 'provisioner'],
  render: (ctx) => (ctx.params[0] ? renderKiosk(ctx, ctx.params[0]) : renderList(ctx)),
};

/** Which of these kiosks are in a pairing session now (one request for the page). */
async function connections(ctx: PageContext, ids: string[]): Promise<Map<string, boolean>> {
  if (ids.length === 0) return new Map();
  const query = new URLSearchParams(ids.map((id) => ['deviceId', id]));
  const res = await ctx.api.get<ConnectedKiosks>(`/api/v5/relay/kiosks/connected?${query}`);
  return new Map(res.data.kiosks.map((k) => [k.deviceId, k.connected]));
}

function connectedBadge(connected: boolean | undefined): HTMLElement {
  if (connected === undefined) return badge('unknown', 'warn');
  return connected ? badge('in a session', 'ok') : badge('idle', 'info');
}

interface KioskRow extends Kiosk {
  connected?: boolean;
}

function renderList(ctx: PageContext): void {
  const search = h('input', { type: 'search', name: 'prefix', maxlength: 128 });
  search.value = ctx.query.get('prefix') ?? '';
  let presenceProblem: unknown;
  const list = pagedList<KioskRow>({
    label: 'Kiosk list',
    pageSize: PAGE_SIZE,
    load: async (after) => {
      const kiosks = (
        await ctx.api.get<Kiosk[]>('/api/kiosks', {
          limit: PAGE_SIZE,
          after,
          prefix: search.value.trim(),
        })
      ).data;
      // the list stands without the relay's answer: the column then says "unknown"
      presenceProblem = undefined;
      const connected = await connections(
        ctx,
        kiosks.map((k) => k.device_id),
      ).catch((error: unknown) => {
        presenceProblem = error;
        return new Map<string, boolean>();
      });
      return {
        rows: kiosks.map((k) => ({ ...k, connected: connected.get(k.device_id) })),
        next: lastKey(kiosks, PAGE_SIZE, (k) => k.device_id),
      };
    },
    render: (kiosks) => [
      presenceProblem ? errorBox(presenceProblem) : null,
      table(
        'Registered kiosks',
        [
          {
            header: 'Device ID',
            cell: (k) => link(`#/kiosks/${encodeURIComponent(k.device_id)}`, k.device_id),
          },
          { header: 'Status', cell: (k) => statusBadge(k.status) },
          {
            header: 'Connected now',
            cell: (k) =>
              h(
                'span',
                { class: 'connected-dot', 'data-connected': String(k.connected ?? 'unknown') },
                connectedBadge(k.connected),
              ),
          },
          { header: 'Key fingerprint', cell: (k) => short(k.key_fingerprint, 16) },
          { header: 'Registered', cell: (k) => when(k.created_at) },
          { header: 'Updated', cell: (k) => when(k.updated_at) },
        ],
        kiosks,
        'No kiosks match.',
      ),
    ],
  });

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
            list.reset();
          },
        },
        field('Device ID starts with', search),
        h('button', { type: 'submit' }, 'Search'),
        h(
          'button',
          { type: 'button', class: 'secondary', onclick: () => list.reload() },
          'Refresh',
        ),
      ),
      list.element,
    ),
    registerForm(ctx, list.reload),
  );
  list.reload();
}

function registerForm(ctx: PageContext, reload: () => void): HTMLElement {
  return section(
    'Register a kiosk',
    actionForm(
      {
        submit: 'Register kiosk',
        run: async (form) => {
          const deviceId = formValue(form, 'device_id');
          await ctx.api.post('/api/register-device', {
            device_id: deviceId,
            public_key: formValue(form, 'public_key'),
          });
          reload();
          return success(
            'Registered ',
            link(`#/kiosks/${encodeURIComponent(deviceId)}`, deviceId),
            '.',
          );
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
    ),
  );
}

function statusBadge(status: Kiosk['status']): HTMLElement {
  return status === 'active' ? badge('active', 'ok') : badge('blocked', 'bad');
}

function renderKiosk(ctx: PageContext, deviceId: string): void {
  const path = `/api/kiosks/${encodeURIComponent(deviceId)}`;
  const detail = h('div', { class: 'panel' });
  const events = h('div', { class: 'panel' });
  const admin = ctx.can('admin');
  const load = (): void => {
    void panel(
      detail,
      async () => {
        const kiosk = (await ctx.api.get<Kiosk>(path)).data;
        const connected = await connections(ctx, [deviceId]).then(
          (map) => map.get(deviceId),
          () => undefined,
        );
        return { kiosk, connected };
      },
      ({ kiosk, connected }) => [
        facts([
          ['Status', statusBadge(kiosk.status)],
          [
            'Connected now',
            h(
              'span',
              { class: 'connected-dot', 'data-connected': String(connected ?? 'unknown') },
              connectedBadge(connected),
            ),
          ],
          ['Key fingerprint', h('code', {}, kiosk.key_fingerprint)],
          ['Registered', when(kiosk.created_at)],
          ['Updated', when(kiosk.updated_at)],
        ]),
        admin
          ? reasonForm('kiosk', kiosk.status === 'blocked', async (verb, reason) => {
              await ctx.api.post(`${path}/${verb}`, { reason });
              load();
            })
          : null,
        admin ? rotateForm(ctx, path, load) : null,
      ],
    );
    if (ctx.can('admin', 'auditor')) {
      void panel(
        events,
        async () => (await ctx.api.get<KioskEvent[]>(`${path}/events`)).data,
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

function rotateForm(ctx: PageContext, path: string, reload: () => void): HTMLElement {
  return section(
    'Rotate the key',
    actionForm(
      {
        submit: 'Rotate key',
        run: async (form) => {
          await ctx.api.post(`${path}/rotate-key`, {
            public_key: formValue(form, 'public_key'),
            reason: formValue(form, 'reason'),
          });
          reload();
          return null;
        },
      },
      field(
        'New public key (SPKI PEM)',
        h('textarea', { name: 'public_key', rows: 5, required: true, spellcheck: 'false' }),
      ),
      field('Reason', h('input', { name: 'reason', required: true, minlength: 3, maxlength: 500 })),
    ),
  );
}
