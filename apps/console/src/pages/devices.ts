import { facts, lastKey, pagedList, reasonForm } from '../components';
import { Page, PageContext } from '../context';
import { badge, h, link, panel, section, svg, table, when } from '../dom';
import { DeviceTrust, FraudEvent, TrustFactor, WorkerDevice, WorkerDeviceDetail } from '../types';
import { NameBook } from '../names';
import { fraudTable } from './fraud';

const PAGE_SIZE = 20;

export const devicesPage: Page = {
  id: 'devices',
  title: 'Devices and trust',
  roles: ['admin'],
  render: (ctx) => (ctx.params[0] ? renderDevice(ctx, ctx.params[0]) : renderList(ctx)),
};

/** A live trust score: green from 60, amber from 40, red under it. */
export function trustBadge(score: number): HTMLElement {
  return badge(String(score), score >= 60 ? 'ok' : score >= 40 ? 'warn' : 'bad');
}

/** The phone's user by name (a worker's links to the worker), the id on hover. */
function userLink(names: NameBook, device: WorkerDevice): HTMLElement {
  return device.user.kind === 'worker'
    ? names.show('worker', device.user.id, `#/workers/${device.user.id}`)
    : names.show('thekedar', device.user.id);
}

function renderList(ctx: PageContext): void {
  const names = NameBook.of(ctx);
  const list = pagedList<WorkerDevice>({
    label: 'Device list',
    pageSize: PAGE_SIZE,
    load: async (after) => {
      const rows = (
        await ctx.api.get<WorkerDevice[]>('/api/v5/devices', {
          limit: PAGE_SIZE,
          after,
          trust: 'live',
        })
      ).data;
      return { rows, next: lastKey(rows, PAGE_SIZE, (d) => d.deviceId) };
    },
    render: (rows) =>
      table(
        'Worker and thekedar phones',
        [
          {
            header: 'Device',
            cell: (d) => link(`#/devices/${encodeURIComponent(d.deviceId)}`, d.deviceId),
          },
          { header: 'User', cell: (d) => userLink(names, d) },
          { header: 'Phone model', cell: (d) => `${d.fingerprint.model} (${d.fingerprint.os})` },
          // the live score, read for the whole page (`trust=live`); its factors are on the
          // device's page
          {
            header: 'Trust now',
            cell: (d) => (d.liveTrustScore === undefined ? '–' : trustBadge(d.liveTrustScore)),
          },
          { header: 'Score at registration', cell: (d) => String(d.trustScore) },
          {
            header: 'Status',
            cell: (d) => (d.isBlocked ? badge('blocked', 'bad') : badge('active', 'ok')),
          },
          { header: 'Last seen', cell: (d) => when(d.lastSeen) },
        ],
        rows,
        'No phones registered yet.',
      ),
  });
  ctx.main.append(h('h1', {}, 'Devices and trust'), list.element);
  list.reload();
}

function renderDevice(ctx: PageContext, deviceId: string): void {
  const path = `/api/v5/devices/${encodeURIComponent(deviceId)}`;
  const detail = h('div', { class: 'panel' });
  const trust = h('div', { class: 'panel' });
  const fraud = h('div', { class: 'panel' });
  const names = NameBook.of(ctx);
  const title = h('h1', {}, 'Device ', h('code', {}, deviceId));
  // named by its model and user once read, the id kept beside it
  title.setAttribute('aria-busy', 'true');
  void names.name('device', deviceId).then((name) => {
    title.removeAttribute('aria-busy');
    if (name)
      title.replaceChildren(name, ' ', h('small', { class: 'id' }, h('code', {}, deviceId)));
  });
  const load = (): void => {
    void panel(
      detail,
      async () => (await ctx.api.get<WorkerDeviceDetail>(path)).data,
      (d) => [
        facts([
          ['User', userLink(names, d)],
          ['Device ID', h('code', {}, d.deviceId)],
          ['Phone', `${d.fingerprint.model}, ${d.fingerprint.os}`],
          ['Status', d.isBlocked ? badge('blocked', 'bad') : badge('active', 'ok')],
          ['Registered', when(d.createdAt)],
          ['Last seen', when(d.lastSeen)],
        ]),
        reasonForm('device', d.isBlocked, async (verb, reason) => {
          await ctx.api.post(`${path}/${verb}`, { reason });
          load();
        }),
        table(
          'Device history',
          [
            { header: 'When', cell: (e) => when(e.at) },
            { header: 'Action', cell: (e) => e.action },
            { header: 'Actor', cell: (e) => h('code', {}, e.actor) },
            { header: 'Reason', cell: (e) => e.reason ?? '—' },
          ],
          d.events,
        ),
      ],
    );
    void panel(
      trust,
      async () => (await ctx.api.get<DeviceTrust>(`${path}/trust`)).data,
      trustView,
    );
  };
  ctx.main.append(
    h('p', { class: 'crumbs' }, link('#/devices', 'Devices'), ' / ', deviceId),
    title,
    section('Live trust score', trust),
    detail,
    section(
      'Fraud events',
      fraud,
      h(
        'p',
        {},
        link(`#/fraud?deviceId=${encodeURIComponent(deviceId)}`, 'All fraud events of this device'),
      ),
    ),
  );
  load();
  void panel(
    fraud,
    async () =>
      (await ctx.api.get<FraudEvent[]>('/api/v5/fraud/events', { deviceId, limit: 20 })).data,
    (rows) => fraudTable(rows, names),
  );
}

function trustView(t: DeviceTrust): HTMLElement {
  return h(
    'div',
    { class: 'trust' },
    h(
      'p',
      { class: 'score' },
      'Score ',
      h('strong', { 'data-trust-score': t.score }, String(t.score)),
      ' of 100 ',
      trustBadge(t.score),
    ),
    factorChart(t.factors),
    table(
      'Trust factors',
      [
        { header: 'Factor', cell: (f) => f.name },
        { header: 'Effect', cell: (f) => (f.effect > 0 ? `+${f.effect}` : String(f.effect)) },
        { header: 'Detail', cell: (f) => f.detail },
      ],
      t.factors,
    ),
    h('p', { class: 'hint' }, 'Computed ', when(t.computedAt)),
  );
}

/** A diverging bar chart: positive effects to the right of the axis, negative to the left. */
function factorChart(factors: TrustFactor[]): SVGElement {
  // narrow enough that its labels stay legible when a phone scales it to the screen
  const rowHeight = 28;
  const labelWidth = 130;
  const half = 130;
  const width = labelWidth + 2 * half + 50;
  const height = factors.length * rowHeight + 10;
  const max = Math.max(1, ...factors.map((f) => Math.abs(f.effect)));
  const axis = labelWidth + half;
  return svg(
    'svg',
    {
      class: 'chart',
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: 'img',
      'aria-label': `Trust factors: ${factors.map((f) => `${f.name} ${f.effect}`).join(', ')}`,
    },
    svg('line', { x1: axis, x2: axis, y1: 0, y2: height, class: 'axis' }),
    factors.map((f, i) => {
      const y = 5 + i * rowHeight;
      const w = (Math.abs(f.effect) / max) * half;
      const x = f.effect >= 0 ? axis : axis - w;
      return svg(
        'g',
        {},
        svg('text', { x: labelWidth - 8, y: y + 17, 'text-anchor': 'end', class: 'label' }, f.name),
        svg('rect', {
          x,
          y: y + 4,
          width: Math.max(w, 1),
          height: rowHeight - 10,
          class: f.effect >= 0 ? 'bar-up' : 'bar-down',
        }),
        svg(
          'text',
          {
            x: f.effect >= 0 ? axis + w + 6 : axis - w - 6,
            y: y + 17,
            'text-anchor': f.effect >= 0 ? 'start' : 'end',
            class: 'value',
          },
          f.effect > 0 ? `+${f.effect}` : String(f.effect),
        ),
      );
    }),
  );
}
