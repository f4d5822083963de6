/**
 * The "Request release…" form: purpose, one description and smallest count per file, choices.
 */
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { IDraft, isNotebook } from './draft';
import { Strings } from './strings';

let serial = 0;

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

/** A labelled field with a hint, linked for screen readers. */
function field(
  label: string,
  hint: string,
  control: HTMLInputElement | HTMLTextAreaElement
): HTMLElement {
  const id = `jp-hds-airlock-field-${++serial}`;
  control.id = id;
  control.setAttribute('aria-describedby', `${id}-hint`);
  return element(
    'div',
    { className: 'jp-hds-airlock-field' },
    element('label', { htmlFor: id }, label),
    control,
    element('p', { id: `${id}-hint`, className: 'jp-hds-airlock-hint' }, hint)
  );
}

export class ReleaseForm extends Widget implements Dialog.IBodyWidget<IDraft> {
  constructor(draft: IDraft, s: Strings) {
    super();
    this.addClass('jp-hds-airlock-form');
    this._draft = draft;
    const node = this.node;
    if (draft.error) {
      node.append(
        element(
          'p',
          { className: 'jp-hds-airlock-error', role: 'alert', tabIndex: -1 },
          draft.error
        )
      );
    }
    node.append(element('p', {}, s.dialogIntro));
    this._purpose = element('textarea', {
      rows: 2,
      required: true,
      value: draft.purpose,
      className: 'jp-mod-styled'
    });
    node.append(field(s.purposeLabel, s.purposeHelp, this._purpose));
    for (const file of draft.files) {
      const description = element('textarea', {
        rows: 2,
        required: true,
        value: file.description,
        className: 'jp-mod-styled'
      });
      const minCell = element('input', {
        type: 'number',
        min: '0',
        step: '1',
        value: file.minCellSize,
        className: 'jp-mod-styled'
      });
      this._files.push({ description, minCell });
      node.append(
        element(
          'fieldset',
          { className: 'jp-hds-airlock-file' },
          element('legend', {}, file.path),
          field(s.descriptionLabel, s.descriptionHelp, description),
          field(s.minCellLabel, s.minCellHelp, minCell)
        )
      );
    }
    if (draft.files.some(file => isNotebook(file.path))) {
      node.append(this._notebookChoice(s));
    }
    this._share = element('input', {
      type: 'checkbox',
      checked: draft.shareWithProject
    });
    node.append(
      element(
        'label',
        { className: 'jp-hds-airlock-share' },
        this._share,
        s.shareLabel
      )
    );
  }

  getValue(): IDraft {
    return {
      ...this._draft,
      purpose: this._purpose.value,
      files: this._draft.files.map((file, i) => ({
        path: file.path,
        description: this._files[i].description.value,
        minCellSize: this._files[i].minCell.value
      })),
      notebookOutputs: this._keepOutputs?.checked ? 'keep' : 'strip',
      shareWithProject: this._share.checked,
      error: ''
    };
  }

  private _notebookChoice(s: Strings): HTMLElement {
    const name = `jp-hds-airlock-outputs-${++serial}`;
    const strip = element('input', {
      type: 'radio',
      name,
      value: 'strip',
      checked: this._draft.notebookOutputs === 'strip'
    });
    this._keepOutputs = element('input', {
      type: 'radio',
      name,
      value: 'keep',
      checked: this._draft.notebookOutputs === 'keep'
    });
    return element(
      'fieldset',
      { className: 'jp-hds-airlock-notebooks' },
      element('legend', {}, s.notebooksLegend),
      element('label', {}, strip, s.notebooksStrip),
      element('label', {}, this._keepOutputs, s.notebooksKeep)
    );
  }

  private _draft: IDraft;
  private _purpose: HTMLTextAreaElement;
  private _files: { description: HTMLTextAreaElement; minCell: HTMLInputElement }[] =
    [];
  private _keepOutputs: HTMLInputElement | null = null;
  private _share: HTMLInputElement;
}
