/**
 * "Release requests": this person's requests for this project, their status and comments.
 */
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { Widget } from '@lumino/widgets';

import { IRequestSummary, listRequests } from './api';
import { Strings } from './strings';

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

/** A reviewer's comment as the hub sends it: `{author, created, text}`, or plain text. */
function commentText(comment: unknown): string {
  if (typeof comment === 'string') {
    return comment;
  }
  if (comment && typeof comment === 'object') {
    const c = comment as Record<string, unknown>;
    const who = [c.author, c.created].filter(v => typeof v === 'string' && v);
    const text = typeof c.text === 'string' ? c.text : JSON.stringify(comment);
    return who.length ? `${who.join(', ')}: ${text}` : text;
  }
  return String(comment);
}

/**
 * The hub's address for a released file. The hub serves it (and records the download), at
 * its own origin when user servers have theirs (`hubHost`), never this server.
 */
export function downloadUrl(requestId: string, number: number): string {
  const hub = PageConfig.getOption('hubHost') + PageConfig.getOption('hubPrefix');
  return URLExt.join(
    hub || '/hub/',
    'hds/airlock/requests',
    encodeURIComponent(requestId),
    'download',
    String(number)
  );
}

export class RequestsPanel extends Widget {
  constructor(
    private _s: Strings,
    project: string,
    private _resubmit: (request: IRequestSummary) => void
  ) {
    super();
    this.addClass('jp-hds-airlock-panel');
    this.node.tabIndex = -1;
    this._status = element('p', { className: 'jp-hds-airlock-status' });
    this._status.setAttribute('role', 'status');
    this._list = element('div');
    this.node.append(
      element('h2', {}, _s.panelHeading(project)),
      this._status,
      this._list
    );
  }

  /** Load the list again from the hub (through the server). */
  async refresh(): Promise<void> {
    this._status.textContent = this._s.loading;
    const answer = await listRequests(this._s);
    this._list.replaceChildren();
    if (!answer.ok) {
      this._status.textContent = this._s.loadFailed(answer.message);
      return;
    }
    const requests = answer.body.requests ?? [];
    this._status.textContent = requests.length
      ? this._s.loaded(requests.length)
      : this._s.noRequests;
    for (const request of requests) {
      this._list.append(this._render(request));
    }
  }

  private _render(request: IRequestSummary): HTMLElement {
    const s = this._s;
    const released = request.status === 'released';
    const rows = (request.files ?? []).map(file =>
      element(
        'tr',
        {},
        element(
          'td',
          {},
          released
            ? element('a', {
                className: 'jp-hds-airlock-download',
                href: downloadUrl(request.id, file.number),
                target: '_blank',
                rel: 'noopener noreferrer',
                title: s.downloadHelp,
                textContent: file.path,
                ariaLabel: s.download(file.path)
              })
            : file.path
        ),
        element('td', {}, String(file.size)),
        element('td', { title: file.sha256 }, (file.sha256 ?? '').slice(0, 12) + '…')
      )
    );
    const comments = request.comments ?? [];
    const resubmit = element('button', {
      className: 'jp-mod-styled jp-mod-reject',
      type: 'button',
      textContent: s.resubmit
    });
    resubmit.addEventListener('click', () => this._resubmit(request));
    return element(
      'section',
      { className: 'jp-hds-airlock-request' },
      element('h3', {}, s.requestHeading(request.id, request.status)),
      element(
        'dl',
        {},
        element('dt', {}, s.purpose),
        element('dd', {}, request.purpose ?? ''),
        element('dt', {}, s.created),
        element('dd', {}, request.created ?? ''),
        ...(released && request.expires
          ? [element('dt', {}, s.releaseEnds), element('dd', {}, request.expires)]
          : [])
      ),
      element(
        'table',
        {},
        element('caption', {}, s.files),
        element(
          'thead',
          {},
          element(
            'tr',
            {},
            element('th', { scope: 'col' }, s.filePath),
            element('th', { scope: 'col' }, s.fileSize),
            element('th', { scope: 'col' }, s.fileSha256)
          )
        ),
        element('tbody', {}, ...rows)
      ),
      element('h4', {}, s.comments),
      comments.length
        ? element('ul', {}, ...comments.map(c => element('li', {}, commentText(c))))
        : element('p', {}, s.noComments),
      // Only a request the checkers sent back is replaced by a new version.
      ...(request.status === 'changes-requested' ? [resubmit] : [])
    );
  }

  private _status: HTMLParagraphElement;
  private _list: HTMLDivElement;
}
