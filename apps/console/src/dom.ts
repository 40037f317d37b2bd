import { ApiError } from './api';

/** Tiny DOM helpers: every node is built with createElement and text nodes, never innerHTML. */
export type Child = Node | string | number | null | undefined | false | Child[];
type AttrValue = string | number | boolean | null | undefined | ((event: Event) => void);
export type Attrs = Record<string, AttrValue>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  el.append(...nodes(children));
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

export function svg(tag: string, attrs: Attrs = {}, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  el.append(...nodes(children));
  return el;
}

function setAttrs(el: Element, attrs: Attrs): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === 'function') {
      el.addEventListener(name.replace(/^on/, ''), value);
    } else if (value === true) {
      el.setAttribute(name, '');
    } else if (value !== false && value !== null && value !== undefined) {
      el.setAttribute(name, String(value));
    }
  }
}

export function nodes(children: Child[]): Node[] {
  const out: Node[] = [];
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) out.push(...nodes(child));
    else if (child instanceof Node) out.push(child);
    else out.push(document.createTextNode(String(child)));
  }
  return out;
}

export function loading(what = 'Loading'): HTMLElement {
  return h('p', { class: 'loading', role: 'status' }, `${what}…`);
}

/**
 * What to do about an error, in the console's words, for the codes a site manager meets at a
 * payroll close (the server's message says what happened; this, what it means for the period).
 */
const CODE_HINTS: Record<string, string> = {
  period_not_over:
    "The period's last day is not over yet at the site (in the site's time zone): close it from the day after its last day.",
  period_overlaps_close:
    'Part of this period is already in another closed period of this site, and a day is closed once: see the closed periods listed here, and close the days outside them.',
  period_closed:
    "This day is in a closed payroll period: a thekedar can no longer correct it. An admin's correction is allowed, and shows in that period's payroll as a change since the close.",
};

/** Every API error shows its code, message and correlation id (and field errors). */
export function errorBox(error: unknown): HTMLElement {
  const e =
    error instanceof ApiError
      ? error
      : new ApiError(0, 'client_error', error instanceof Error ? error.message : String(error));
  return h(
    'div',
    { class: 'error', role: 'alert' },
    h('p', {}, h('strong', {}, e.status ? `Error ${e.status}` : 'Error'), ': ', e.message),
    CODE_HINTS[e.code] ? h('p', { class: 'error-hint' }, CODE_HINTS[e.code]) : null,
    h(
      'dl',
      { class: 'error-fields' },
      h('dt', {}, 'code'),
      h('dd', { 'data-error-code': e.code }, h('code', {}, e.code)),
      h('dt', {}, 'correlationId'),
      h(
        'dd',
        { 'data-correlation-id': e.correlationId ?? '' },
        h('code', {}, e.correlationId ?? '—'),
      ),
    ),
    e.errors?.length
      ? h(
          'ul',
          {},
          e.errors.map((f) => h('li', {}, h('code', {}, f.field), ': ', f.message)),
        )
      : null,
  );
}

/** Shows a loading state, then what `render` makes of the data, or the error. */
export async function panel<T>(
  container: HTMLElement,
  load: () => Promise<T>,
  render: (data: T) => Child,
): Promise<T | undefined> {
  container.replaceChildren(loading());
  container.setAttribute('aria-busy', 'true');
  try {
    const data = await load();
    container.replaceChildren(...nodes([render(data)]));
    return data;
  } catch (error) {
    container.replaceChildren(errorBox(error));
    return undefined;
  } finally {
    container.removeAttribute('aria-busy');
  }
}

/** Runs a form action: disables the button, shows progress, then success or the error. */
export async function action(
  status: HTMLElement,
  button: HTMLButtonElement | null,
  run: () => Promise<Child>,
): Promise<boolean> {
  if (button) button.disabled = true;
  status.replaceChildren(loading('Working'));
  try {
    const result = await run();
    status.replaceChildren(...nodes([result]));
    return true;
  } catch (error) {
    status.replaceChildren(errorBox(error));
    return false;
  } finally {
    if (button) button.disabled = false;
  }
}

export interface Column<T> {
  header: string;
  cell: (row: T) => Child;
}

/**
 * Marks a table's box as a scrolling region while its table is wider than it (on a phone,
 * usually): it then takes the keyboard focus (arrow keys scroll it) and is named after its
 * table; a box that fits stays out of the tab order.
 */
const observedBoxes = new Set<HTMLElement>();
const scrollBoxes = new ResizeObserver((entries) => {
  // an observer holds what it observes: boxes a page has dropped (another page, another grid
  // page) are let go, so paging through a large grid keeps no old grids alive
  for (const box of observedBoxes) {
    if (box.isConnected) continue;
    scrollBoxes.unobserve(box);
    if (box.firstElementChild) scrollBoxes.unobserve(box.firstElementChild);
    observedBoxes.delete(box);
  }
  for (const { target } of entries) {
    // the box (the page's width changed) or its table (its content did)
    const box = target.classList.contains('table-wrap') ? target : target.parentElement;
    if (!(box instanceof HTMLElement)) continue;
    if (box.scrollWidth > box.clientWidth + 1) {
      box.tabIndex = 0;
      box.setAttribute('role', 'region');
      box.setAttribute('aria-label', `${box.dataset.label ?? 'Table'} (scrolls sideways)`);
    } else {
      box.removeAttribute('tabindex');
      box.removeAttribute('role');
      box.removeAttribute('aria-label');
    }
  }
});

/** A box around a table that scrolls sideways when the table is wider than the page. */
export function scrollBox(label: string, table: HTMLTableElement): HTMLElement {
  const box = h('div', { class: 'table-wrap', 'data-label': label }, table);
  scrollBoxes.observe(box);
  scrollBoxes.observe(table);
  observedBoxes.add(box);
  return box;
}

export function table<T>(
  caption: string,
  columns: Column<T>[],
  rows: T[],
  empty = 'Nothing yet.',
  tableClass?: string,
): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, empty);
  return scrollBox(
    caption,
    h(
      'table',
      { class: tableClass ?? false },
      h('caption', {}, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          columns.map((c) => h('th', { scope: 'col' }, c.header)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.map((row) =>
          h(
            'tr',
            {},
            columns.map((c) => h('td', {}, c.cell(row))),
          ),
        ),
      ),
    ),
  );
}

export function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  const hintId = hint ? `${id}-hint` : undefined;
  if (hintId) input.setAttribute('aria-describedby', hintId);
  return h(
    'div',
    { class: 'field' },
    h('label', { for: id }, label),
    input,
    hint ? h('small', { id: hintId }, hint) : null,
  );
}

export function formValue(form: HTMLFormElement, name: string): string {
  const el = form.elements.namedItem(name);
  return el instanceof HTMLInputElement ||
    el instanceof HTMLTextAreaElement ||
    el instanceof HTMLSelectElement
    ? el.value.trim()
    : '';
}

/**
 * The legacy zone names a browser's ICU still reports (CLDR keeps them as its canonical ids:
 * Chrome says `Asia/Calcutta` for `Asia/Kolkata`), with the current IANA name shown instead.
 * Only CLDR's canonical ids that IANA has since renamed; other aliases ICU already resolves.
 */
const CURRENT_ZONE: Readonly<Record<string, string>> = {
  'Africa/Asmera': 'Africa/Asmara',
  'America/Buenos_Aires': 'America/Argentina/Buenos_Aires',
  'America/Catamarca': 'America/Argentina/Catamarca',
  'America/Coral_Harbour': 'America/Atikokan',
  'America/Cordoba': 'America/Argentina/Cordoba',
  'America/Godthab': 'America/Nuuk',
  'America/Indianapolis': 'America/Indiana/Indianapolis',
  'America/Jujuy': 'America/Argentina/Jujuy',
  'America/Louisville': 'America/Kentucky/Louisville',
  'America/Mendoza': 'America/Argentina/Mendoza',
  'Asia/Calcutta': 'Asia/Kolkata',
  'Asia/Katmandu': 'Asia/Kathmandu',
  'Asia/Rangoon': 'Asia/Yangon',
  'Asia/Saigon': 'Asia/Ho_Chi_Minh',
  'Atlantic/Faeroe': 'Atlantic/Faroe',
  'Europe/Kiev': 'Europe/Kyiv',
  'Pacific/Enderbury': 'Pacific/Kanton',
  'Pacific/Ponape': 'Pacific/Pohnpei',
  'Pacific/Truk': 'Pacific/Chuuk',
};

/** The browser's time zone (current IANA name), the one every instant is shown in. */
export function localZone(): string {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  return CURRENT_ZONE[zone] ?? zone;
}

/** An instant's local date and time with its UTC offset, and the zone's name. */
function localParts(date: Date): { time: string; zone: string } {
  const parts = new Intl.DateTimeFormat('en-GB', {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'shortOffset',
  }).formatToParts(date);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return {
    time: `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}:${get('second')} ${get('timeZoneName')}`,
    zone: localZone(),
  };
}

/**
 * An instant in the browser's local time zone, named: `2026-03-19 10:01:00 GMT-4
 * (America/New_York)`. The API's instants are UTC; a site manager reads the local clock.
 */
export function whenText(iso?: string): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const { time, zone } = localParts(date);
  return `${time} (${zone})`;
}

/**
 * An instant as a `<time>`: local with its offset, the zone's name under it (small), the exact
 * ISO instant (UTC) on hover and in `datetime`.
 */
export function when(iso?: string): HTMLElement | string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const exact = date.toISOString();
  const { time, zone } = localParts(date);
  return h(
    'time',
    { datetime: exact, title: exact },
    time,
    ' ',
    h('span', { class: 'zone' }, `(${zone})`),
  );
}

export function short(text: string | undefined, length = 12): HTMLElement | string {
  if (!text) return '—';
  return text.length <= length
    ? h('code', {}, text)
    : h('code', { title: text }, `${text.slice(0, length)}…`);
}

export function link(href: string, text: Child): HTMLAnchorElement {
  return h('a', { href }, text);
}

export function badge(text: string, tone: 'ok' | 'warn' | 'bad' | 'info' = 'info'): HTMLElement {
  return h('span', { class: `badge badge-${tone}` }, text);
}

export function section(title: string, ...children: Child[]): HTMLElement {
  const id = `s-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return h('section', { 'aria-labelledby': id }, h('h2', { id }, title), ...nodes(children));
}
