/**
 * Jupyter HDS airlock in JupyterLab: "Request release…" on files, and "Release requests".
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  MainAreaWidget,
  showDialog,
  ToolbarButton,
  WidgetTracker
} from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { refreshIcon } from '@jupyterlab/ui-components';

import { IRequestSummary, submitRequest } from './api';
import { ReleaseForm } from './dialog';
import { IDraft, isReleasable, newDraft, toRequest } from './draft';
import { RequestsPanel } from './panel';
import { DOMAIN, Strings, strings } from './strings';

export const COMMANDS = {
  request: 'hds-airlock:request-release',
  list: 'hds-airlock:open-requests'
};

/** Show the form until the request is accepted or the researcher cancels. */
async function requestRelease(s: Strings, draft: IDraft): Promise<void> {
  for (;;) {
    const result = await showDialog({
      title: s.dialogTitle,
      body: new ReleaseForm(draft, s),
      buttons: [
        Dialog.cancelButton({ label: s.cancel }),
        Dialog.okButton({ label: s.submit })
      ],
      focusNodeSelector: draft.error ? '.jp-hds-airlock-error' : 'textarea'
    });
    if (!result.button.accept || !result.value) {
      return;
    }
    draft = result.value;
    const made = toRequest(draft, s);
    if ('error' in made) {
      draft = { ...draft, error: made.error };
      continue;
    }
    const answer = await submitRequest(s, made.request);
    if (answer.ok) {
      await showDialog({
        title: s.submittedTitle,
        body: s.submittedBody(answer.body.id),
        buttons: [Dialog.okButton({ label: s.close })]
      });
      return;
    }
    draft = { ...draft, error: answer.message };
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: '@jupyter-hds/airlock:plugin',
  description:
    'Request the release of results from the file browser, and follow the requests.',
  autoStart: true,
  requires: [IFileBrowserFactory],
  optional: [ICommandPalette, ILayoutRestorer, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    factory: IFileBrowserFactory,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null
  ) => {
    const s = strings((translator ?? nullTranslator).load(DOMAIN));
    const contents = app.serviceManager.contents;
    const project = PageConfig.getOption('hubServerName');

    const selectedPaths = (): string[] => {
      const browser = factory.tracker.currentWidget;
      if (!browser) {
        return [];
      }
      return Array.from(browser.selectedItems(), item =>
        item.type === 'directory' ? '' : contents.localPath(item.path)
      );
    };

    app.commands.addCommand(COMMANDS.request, {
      label: s.requestCommand,
      caption: () => {
        const paths = selectedPaths();
        return paths.length && paths.every(isReleasable)
          ? s.requestCaption
          : s.requestOnlyHere;
      },
      isEnabled: () => {
        const paths = selectedPaths();
        return paths.length > 0 && paths.every(isReleasable);
      },
      execute: () => requestRelease(s, newDraft(selectedPaths()))
    });

    const tracker = new WidgetTracker<MainAreaWidget<RequestsPanel>>({
      namespace: 'hds-airlock'
    });
    const resubmit = (request: IRequestSummary) => {
      const draft = newDraft(
        request.files.map(file => file.path),
        request.id
      );
      return requestRelease(s, { ...draft, purpose: request.purpose ?? '' });
    };

    app.commands.addCommand(COMMANDS.list, {
      label: s.requestsCommand,
      caption: s.requestsCaption,
      execute: async () => {
        let widget = tracker.currentWidget;
        if (!widget || widget.isDisposed) {
          const panel = new RequestsPanel(s, project, resubmit);
          widget = new MainAreaWidget({ content: panel });
          widget.id = 'hds-airlock-requests';
          widget.title.label = s.panelTitle;
          widget.title.closable = true;
          widget.toolbar.addItem(
            'refresh',
            new ToolbarButton({
              icon: refreshIcon,
              label: s.refresh,
              tooltip: s.refresh,
              onClick: () => void panel.refresh()
            })
          );
          await tracker.add(widget);
          app.shell.add(widget, 'main');
        }
        app.shell.activateById(widget.id);
        await widget.content.refresh();
      }
    });

    palette?.addItem({ command: COMMANDS.list, category: s.panelTitle });
    if (restorer) {
      void restorer.restore(tracker, {
        command: COMMANDS.list,
        name: () => 'hds-airlock-requests'
      });
    }
  }
};

export default plugin;
