import { h } from './dom';
import { KeysetPager } from './context';

/** "Previous / Page n / Next" under a list; `nextKey` is undefined on the last page. */
export function pagerNav(
  label: string,
  pager: KeysetPager,
  nextKey: string | undefined,
  reload: () => void,
): HTMLElement {
  return h(
    'nav',
    { class: 'pager', 'aria-label': `${label} pages` },
    h(
      'button',
      {
        type: 'button',
        disabled: pager.page === 1,
        onclick: () => {
          pager.previous();
          reload();
        },
      },
      'Previous page',
    ),
    h('span', { class: 'page-no' }, `Page ${pager.page}`),
    h(
      'button',
      {
        type: 'button',
        disabled: nextKey === undefined,
        onclick: () => {
          if (nextKey === undefined) return;
          pager.next(nextKey);
          reload();
        },
      },
      'Next page',
    ),
  );
}
