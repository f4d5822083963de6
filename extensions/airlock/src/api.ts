/**
 * The Jupyter server's airlock routes (hds_airlock), as the researcher's browser calls them.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { Strings } from './strings';

export const ROUTE = 'api/hds/airlock/requests';

export interface IFileToRelease {
  path: string;
  description: string;
  min_cell_size: number | null;
}

export interface IReleaseRequest {
  purpose: string;
  files: IFileToRelease[];
  notebook_outputs: 'keep' | 'strip';
  share_with_project: boolean;
  replaces: string | null;
}

export interface IReleasedFile {
  number: number;
  path: string;
  size: number;
  sha256: string;
}

export interface IRequestSummary {
  id: string;
  status: string;
  purpose: string;
  created: string;
  expires: string | null;
  files: IReleasedFile[];
  comments: unknown[];
}

export interface ISubmitted {
  id: string;
  status: string;
}

/** A server answer: the JSON body when it succeeded, the message to show when not. */
export type Answer<T> =
  | { ok: true; status: number; body: T }
  | { ok: false; status: number; message: string };

async function call<T>(
  s: Strings,
  init: RequestInit,
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<Answer<T>> {
  const url = URLExt.join(settings.baseUrl, ROUTE);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    return { ok: false, status: 0, message: s.networkError(String(error)) };
  }
  let body: any = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (response.ok && body !== null) {
    return { ok: true, status: response.status, body: body as T };
  }
  const message =
    body && typeof body.message === 'string' && body.message
      ? body.message
      : s.httpError(response.status);
  return { ok: false, status: response.status, message };
}

/** Ask for a release; the hub's answer (the request id, or why not) comes back as is. */
export function submitRequest(
  s: Strings,
  request: IReleaseRequest
): Promise<Answer<ISubmitted>> {
  return call<ISubmitted>(s, {
    method: 'POST',
    body: JSON.stringify(request),
    headers: { 'Content-Type': 'application/json' }
  });
}

/** This person's requests for this project. */
export function listRequests(
  s: Strings
): Promise<Answer<{ requests: IRequestSummary[] }>> {
  return call<{ requests: IRequestSummary[] }>(s, { method: 'GET' });
}
