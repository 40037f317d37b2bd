import { KeysetPager, PageContext } from './context';
import { action, badge, Child, field, formValue, h, panel, section } from './dom';
import { pagerNav } from './pager';
import { Site } from './types';

/**
 * The building blocks the pages share: a form that runs one API action, a reason form for
 * block/unblock, a keyset-paged list, a facts list, a chain verification's verdict and a site
 * picker.
 */

export interface ActionFormOptions {
  submit: string;
  /** What the form sends; its result is shown under the button (null: nothing). */
  run: (form: HTMLFormElement) => Promise<Child>;
  class?: string;
  danger?: boolean;
  title?: string;
}

/** A form whose submit runs one API call, with its button disabled and progress, then the result or the error. */
export function actionForm(options: ActionFormOptions, ...fields: Child[]): HTMLFormElement {
  const status = h('div', { class: 'status' });
  const button = h(
    'button',
    { type: 'submit', class: options.danger ? 'danger' : false },
    options.submit,
  );
  const form: HTMLFormElement = h(
    'form',
    {
      class: options.class ?? false,
      onsubmit: (e: Event) => {
        e.preventDefault();
        void action(status, button, () => options.run(form));
      },
    },
    options.title ? h('h3', {}, options.title) : null,
    ...fields,
    button,
    status,
  );
  return form;
}

/** Block or unblock with a reason (3-500 characters), as a section. */
export function reasonForm(
  what: string,
  blocked: boolean,
  send: (verb: 'block' | 'unblock', reason: string) => Promise<unknown>,
): HTMLElement {
  const verb = blocked ? 'unblock' : 'block';
  const Verb = blocked ? 'Unblock' : 'Block';
  return section(
    `${Verb} this ${what}`,
    actionForm(
      {
        submit: `${Verb} ${what}`,
        danger: !blocked,
        run: async (form) => {
          await send(verb, formValue(form, 'reason'));
          return null;
        },
      },
      field(
        `Reason to ${verb}`,
        h('input', { name: 'reason', required: true, minlength: 3, maxlength: 500 }),
      ),
    ),
  );
}

/** "Done" under a form. */
export function success(...children: Child[]): HTMLElement {
  return h('p', { class: 'ok', role: 'status' }, ...children);
}

/**
 * A hash chain's verification (ledger, vault audit): a verified or broken badge and its
 * sentence, then the details; `data-verify` says which, for the console's browser spec.
 */
export function verdict(ok: boolean, sentence: string, ...details: Child[]): HTMLElement {
  return h(
    'div',
    {
      class: `result ${ok ? 'result-ok' : 'result-bad'}`,
      role: 'status',
      'data-verify': ok ? 'ok' : 'broken',
    },
    h('p', {}, ok ? badge('verified', 'ok') : badge('broken', 'bad'), ' ', sentence),
    ...details,
  );
}

/** A definition list of label → value. */
export function facts(
  rows: Array<[string, Child]>,
  attrs: Record<string, string> = {},
): HTMLElement {
  return h(
    'dl',
    { class: 'facts', ...attrs },
    rows.map(([label, value]) => [h('dt', {}, label), h('dd', {}, value)]),
  );
}

export interface PagedListOptions<T> {
  label: string;
  pageSize: number;
  /** Loads one page after `cursor`; `next` is the cursor of the page after it, if any. */
  load: (cursor: string | undefined) => Promise<{ rows: T[]; next?: string }>;
  render: (rows: T[]) => Child;
}

/**
 * A keyset-paged list in a panel: `reload()` shows the current page again, `reset()` goes back to
 * the first. The next cursor defaults to the rows' count telling whether a page follows.
 */
export function pagedList<T>(options: PagedListOptions<T>): {
  element: HTMLElement;
  reload: () => void;
  reset: () => void;
} {
  const pager = new KeysetPager();
  const element = h('div', { class: 'panel' });
  const reload = (): void => {
    void panel(
      element,
      () => options.load(pager.current),
      ({ rows, next }) => [options.render(rows), pagerNav(options.label, pager, next, reload)],
    );
  };
  return {
    element,
    reload,
    reset: () => {
      pager.reset();
      reload();
    },
  };
}

/** The cursor of the next page for APIs that page by the last row's id. */
export function lastKey<T>(
  rows: T[],
  pageSize: number,
  key: (row: T) => string,
): string | undefined {
  return rows.length === pageSize ? key(rows[rows.length - 1]) : undefined;
}

/** The API's largest page of sites. */
const SITE_PAGE = 500;

/**
 * Every site, for pickers and site names: the API's pages of 500 followed to the end, so a
 * picker is never cut at the first 500 (a table of sites pages itself instead).
 */
export async function loadSites(ctx: Pick<PageContext, 'api'>): Promise<Site[]> {
  const sites: Site[] = [];
  let after: string | undefined;
  do {
    const page = (await ctx.api.get<Site[]>('/api/v5/sites', { limit: SITE_PAGE, after })).data;
    sites.push(...page);
    after = lastKey(page, SITE_PAGE, (s) => s.siteId);
  } while (after);
  return sites;
}

/** A <select> of sites with a panel for its loading state; `onChoose` gets the chosen site. */
export function sitePicker(
  ctx: PageContext,
  selected: string | undefined,
  onChoose: (site: Site) => void,
): { picker: HTMLElement; status: HTMLElement; sites: Promise<Site[] | undefined> } {
  const select = h('select', { name: 'site' }, h('option', { value: '' }, 'Choose a site'));
  const status = h('div', { class: 'panel' });
  const sites = panel(
    status,
    () => loadSites(ctx),
    (list) => {
      select.append(
        ...list.map((s) =>
          h(
            'option',
            { value: s.siteId, selected: s.siteId === selected },
            `${s.name} (${s.siteId.slice(-6)})`,
          ),
        ),
      );
      return list.length ? null : h('p', { class: 'empty' }, 'No sites yet.');
    },
  );
  select.addEventListener('change', () => {
    void sites.then((list) => {
      const site = list?.find((s) => s.siteId === select.value);
      if (site) onChoose(site);
    });
  });
  return { picker: field('Site', select), status, sites };
}
