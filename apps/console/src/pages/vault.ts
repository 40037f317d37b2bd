import { lastKey, pagedList, verdict } from '../components';
import { Page, PageContext } from '../context';
import { action, badge, field, h, link, section, short, table, when } from '../dom';
import { VaultAuditRecord, VaultAuditVerification } from '../types';

const PAGE_SIZE = 50;

export const vaultPage: Page = {
  id: 'vault',
  title: 'Vault audit',
  roles: ['auditor'],
  render,
};

function render(ctx: PageContext): void {
  const fileId = h('input', { name: 'fileId', maxlength: 24, autocomplete: 'off' });
  fileId.value = ctx.query.get('fileId') ?? '';
  const list = pagedList<VaultAuditRecord>({
    label: 'Audit record',
    pageSize: PAGE_SIZE,
    load: async (after) => {
      const rows = (
        await ctx.api.get<VaultAuditRecord[]>('/api/v5/vault/audit', {
          fileId: fileId.value.trim(),
          after,
          limit: PAGE_SIZE,
        })
      ).data;
      return { rows, next: lastKey(rows, PAGE_SIZE, (r) => String(r.seq)) };
    },
    render: (rows) =>
      table(
        fileId.value.trim()
          ? `Access records of file ${fileId.value.trim()}`
          : 'Access records, in chain order',
        [
          { header: 'Seq', cell: (r) => String(r.seq) },
          { header: 'When', cell: (r) => when(r.at) },
          {
            header: 'File',
            cell: (r) => link(`#/vault?fileId=${r.fileId}`, short(r.fileId, 10)),
          },
          { header: 'Action', cell: (r) => r.action },
          {
            header: 'Result',
            cell: (r) => badge(r.result, r.result === 'allowed' ? 'ok' : 'bad'),
          },
          { header: 'Reason', cell: (r) => r.reason ?? '—' },
          { header: 'Actor', cell: (r) => h('code', {}, r.actor) },
          { header: 'Purpose', cell: (r) => r.purpose },
          { header: 'IP', cell: (r) => r.ip },
          { header: 'Record hash', cell: (r) => short(r.recordHash, 12) },
        ],
        rows,
        'No access records.',
      ),
  });
  const verifyResult = h('div', { class: 'status', 'aria-live': 'polite' });
  const verifyButton = h('button', { type: 'button' }, 'Verify audit chain');
  verifyButton.addEventListener('click', () => {
    void action(verifyResult, verifyButton, async () => {
      const v = (await ctx.api.get<VaultAuditVerification>('/api/v5/vault/audit/verify')).data;
      return verdict(
        v.ok,
        v.ok
          ? `The audit chain of ${v.length} records verifies.`
          : `The audit chain breaks at seq ${v.brokenAtSeq ?? '?'}.`,
        h('p', {}, 'Head ', h('code', { class: 'hash' }, v.headHash)),
      );
    });
  });
  ctx.main.append(
    h('h1', {}, 'Vault audit'),
    section(
      'Verification',
      h(
        'p',
        {},
        'Recomputes the hash chain over every access record: an edited or deleted record breaks it.',
      ),
      verifyButton,
      verifyResult,
    ),
    section(
      'Access log',
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
        field('File ID', fileId, 'Empty for every file'),
        h('button', { type: 'submit' }, 'Show'),
      ),
      list.element,
    ),
  );
  list.reload();
}
