import { facts, sitePicker, verdict } from '../components';
import { Page, PageContext } from '../context';
import { action, h, link, panel, section, short, table, when } from '../dom';
import { NameBook } from '../names';
import { LedgerCheckpoint, LedgerVerification } from '../types';

export const ledgersPage: Page = {
  id: 'ledgers',
  title: 'Ledgers',
  roles: ['admin', 'auditor'],
  render,
};

function render(ctx: PageContext): void {
  const siteId = ctx.params[0];
  const { picker, status } = sitePicker(ctx, siteId, (site) =>
    ctx.navigate(`#/ledgers/${site.siteId}`),
  );
  ctx.main.append(h('h1', {}, 'Ledgers'), h('div', { class: 'inline' }, picker), status);
  if (siteId) renderSite(ctx, siteId);
}

function renderSite(ctx: PageContext, siteId: string): void {
  const base = `/api/v5/ledger/${encodeURIComponent(siteId)}`;
  const checkpoints = h('div', { class: 'panel' });
  const head = h('div', { class: 'panel' });
  const verifyResult = h('div', { class: 'status', 'aria-live': 'polite' });
  const verifyButton = h('button', { type: 'button' }, 'Verify chain');
  verifyButton.addEventListener('click', () => {
    void action(verifyResult, verifyButton, async () => {
      const v = (await ctx.api.get<LedgerVerification>(`${base}/verify`)).data;
      return verification(v);
    });
  });
  const exportResult = h('div', { class: 'status' });
  const exportButton = h('button', { type: 'button', class: 'secondary' }, 'Export (NDJSON)');
  exportButton.addEventListener('click', () => {
    void action(exportResult, exportButton, async () => {
      const blob = await ctx.api.blob(`${base}/export`);
      const url = URL.createObjectURL(blob);
      ctx.onLeave(() => URL.revokeObjectURL(url));
      const lines = (await blob.text()).split('\n').filter(Boolean).length;
      return h(
        'p',
        { role: 'status' },
        `${lines} entries, ${blob.size} bytes. `,
        h(
          'a',
          { href: url, download: `ledger-${siteId}.ndjson`, class: 'download' },
          'Save the export',
        ),
      );
    });
  });
  const site = section(
    `Site ${siteId}`,
    h(
      'p',
      {},
      link(`#/timesheets/${siteId}`, 'Timesheets of this site'),
      // the fraud page is the admin's only (an auditor would open a page its role cannot)
      ...(ctx.can('admin')
        ? [' · ', link(`#/fraud?siteId=${siteId}`, 'Fraud events at this site')]
        : []),
    ),
    h('h3', {}, 'Head'),
    head,
    h('div', { class: 'actions' }, verifyButton, exportButton),
    verifyResult,
    exportResult,
    h('h3', {}, 'Signed checkpoints'),
    checkpoints,
  );
  ctx.main.append(site);
  // the site by its name once read, its id kept beside it
  site.setAttribute('aria-busy', 'true');
  void NameBook.of(ctx)
    .name('site', siteId)
    .then((name) => {
      site.removeAttribute('aria-busy');
      if (name)
        site
          .querySelector('h2')
          ?.replaceChildren(name, ' ', h('small', { class: 'id' }, h('code', {}, siteId)));
    });
  void panel(
    checkpoints,
    async () => (await ctx.api.get<LedgerCheckpoint[]>(`${base}/checkpoints`)).data,
    (list) => {
      const last = list[list.length - 1];
      head.replaceChildren(
        last
          ? h(
              'p',
              {},
              'Last signed checkpoint at tree size ',
              h('strong', {}, String(last.treeSize)),
              ', root ',
              short(last.rootHash, 16),
              ' (signed ',
              when(last.signedAt),
              `, log ${last.origin}). Verify for the current head.`,
            )
          : h('p', {}, 'No checkpoint signed yet. Verify for the current head.'),
      );
      return table(
        'Checkpoints, oldest first',
        [
          { header: 'Tree size', cell: (c) => String(c.treeSize) },
          { header: 'Root hash', cell: (c) => short(c.rootHash, 16) },
          { header: 'Signed', cell: (c) => when(c.signedAt) },
          { header: 'Log', cell: (c) => h('code', {}, c.origin) },
        ],
        list,
        'No checkpoints yet (one is signed every 100 entries).',
      );
    },
  );
}

function verification(v: LedgerVerification): HTMLElement {
  return verdict(
    v.ok,
    v.ok
      ? `The chain of ${v.length} entries verifies.`
      : `The chain breaks at seq ${v.brokenAtSeq ?? '?'}: ${v.reason ?? 'unknown reason'}.`,
    facts([
      ['Length', h('span', { 'data-length': v.length }, String(v.length))],
      ['Head hash', h('code', { class: 'hash' }, v.headHash)],
      ['Checkpoints checked', String(v.checkpointsChecked)],
    ]),
  );
}
