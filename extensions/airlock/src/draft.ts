/**
 * What the researcher is asking to release, as typed in the dialog, and the request it makes.
 */
import { IReleaseRequest } from './api';
import { Strings } from './strings';

/** The folders (relative to the server's root) whose files may be released. */
export const RELEASABLE_FOLDERS = ['work/', 'shared/'];

export interface IFileDraft {
  path: string;
  description: string;
  minCellSize: string;
}

export interface IDraft {
  purpose: string;
  files: IFileDraft[];
  notebookOutputs: 'keep' | 'strip';
  shareWithProject: boolean;
  replaces: string | null;
  /** The last refusal, shown at the top of the dialog. */
  error: string;
}

export function isReleasable(path: string): boolean {
  return RELEASABLE_FOLDERS.some(folder => path.startsWith(folder));
}

export function isNotebook(path: string): boolean {
  return path.toLowerCase().endsWith('.ipynb');
}

export function newDraft(paths: string[], replaces: string | null = null): IDraft {
  return {
    purpose: '',
    files: paths.map(path => ({ path, description: '', minCellSize: '' })),
    notebookOutputs: 'strip',
    shareWithProject: false,
    replaces,
    error: ''
  };
}

/** The request to send, or the message saying what to correct first. */
export function toRequest(
  draft: IDraft,
  s: Strings
): { request: IReleaseRequest } | { error: string } {
  const files = [];
  for (const file of draft.files) {
    const text = file.minCellSize.trim();
    if (text !== '' && !/^\d+$/.test(text)) {
      return { error: s.minCellInvalid(file.path) };
    }
    files.push({
      path: file.path,
      description: file.description.trim(),
      min_cell_size: text === '' ? null : parseInt(text, 10)
    });
  }
  return {
    request: {
      purpose: draft.purpose.trim(),
      files,
      notebook_outputs: draft.notebookOutputs,
      share_with_project: draft.shareWithProject,
      replaces: draft.replaces
    }
  };
}
