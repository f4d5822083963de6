/**
 * Every string the researcher reads, in one place (translation domain "hds_airlock").
 */
import { TranslationBundle } from '@jupyterlab/translation';

export const DOMAIN = 'hds_airlock';

export function strings(trans: TranslationBundle) {
  return {
    requestCommand: trans.__('Request release…'),
    requestCaption: trans.__(
      'Ask output checkers to review these files so they can leave the project'
    ),
    requestOnlyHere: trans.__(
      'Only files in your work or shared folder can be released'
    ),
    requestsCommand: trans.__('Release requests'),
    requestsCaption: trans.__(
      'Your release requests for this project, their status and the reviewers’ comments'
    ),
    dialogTitle: trans.__('Request the release of results'),
    dialogIntro: trans.__(
      'Output checkers review every file before it may leave the project. ' +
        'A copy of each file is taken now: editing a file afterwards does not change ' +
        'what is reviewed.'
    ),
    purposeLabel: trans.__('Purpose of the release'),
    purposeHelp: trans.__(
      'What the results are for, e.g. “Table 2 and Figure 1 of the cohort paper”.'
    ),
    descriptionLabel: trans.__('What this file holds'),
    descriptionHelp: trans.__(
      'What the numbers are (counts, means, model coefficients…) and on which population.'
    ),
    minCellLabel: trans.__('Smallest count allowed in this file'),
    minCellHelp: trans.__(
      'The minimum cell size you applied; leave empty when the file holds no counts.'
    ),
    minCellInvalid: (path: string) =>
      trans.__(
        'The smallest count for %1 must be a whole number (0 or more), or left empty.',
        path
      ),
    notebooksLegend: trans.__('Notebooks'),
    notebooksStrip: trans.__('Release the notebooks without their outputs'),
    notebooksKeep: trans.__('Release the notebooks with their outputs'),
    shareLabel: trans.__(
      'Also let the project’s other members download the release'
    ),
    submit: trans.__('Submit'),
    cancel: trans.__('Cancel'),
    close: trans.__('Close'),
    submittedTitle: trans.__('Release requested'),
    submittedBody: (id: string) =>
      trans.__(
        'Your request %1 is waiting for the output checkers. Follow it in File › Release requests.',
        id
      ),
    refusedTitle: trans.__('The request was not accepted'),
    networkError: (detail: string) =>
      trans.__(
        'Your Jupyter server did not answer (%1). Check your connection and try again.',
        detail
      ),
    httpError: (status: number) =>
      trans.__('The server answered with an error (HTTP %1).', status),
    panelTitle: trans.__('Release requests'),
    panelHeading: (project: string) =>
      project
        ? trans.__('Release requests for project %1', project)
        : trans.__('Release requests for this project'),
    refresh: trans.__('Refresh'),
    loading: trans.__('Loading…'),
    loaded: (count: number) =>
      trans._n('%1 request', '%1 requests', count),
    noRequests: trans.__(
      'No release requests yet. Right-click files in your work or shared folder and choose “Request release…”.'
    ),
    loadFailed: (message: string) =>
      trans.__('The requests could not be loaded: %1', message),
    requestHeading: (id: string, status: string) =>
      trans.__('Request %1: %2', id, status),
    purpose: trans.__('Purpose'),
    created: trans.__('Requested'),
    files: trans.__('Files'),
    filePath: trans.__('File'),
    fileSize: trans.__('Size (bytes)'),
    fileSha256: trans.__('SHA-256'),
    comments: trans.__('Reviewers’ comments'),
    noComments: trans.__('No comments yet.'),
    resubmit: trans.__('Submit a new version…'),
    releaseEnds: trans.__('Download until'),
    download: (path: string) => trans.__('Download the approved %1', path),
    downloadHelp: trans.__(
      'The hub hands out exactly the bytes the checkers approved, and records the download.'
    )
  };
}

export type Strings = ReturnType<typeof strings>;
