// Local OpenID Connect provider for `make up` and the tests: oidc-provider with file-based demo accounts.
//
// Settings come from the environment, DEMO_OIDC_* below; scripts/up.sh (`make up`) and
// tests/support/oidc.py set them. The accounts' passwords are published in the README, so this
// provider refuses to listen on anything but a loopback address.
import { createHash, generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider, { errors } from 'oidc-provider';

const here = dirname(fileURLToPath(import.meta.url));
const env = process.env;
const host = env.DEMO_OIDC_HOST || '127.0.0.1';
const port = Number(env.DEMO_OIDC_PORT || 8100);
const issuer = `http://${host}:${port}`;

if (!(host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.')))) {
  console.error(`DEMO_OIDC_HOST=${host}: the demo provider only listens on a loopback address`);
  process.exit(2);
}

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
const accounts = readJson(env.DEMO_OIDC_ACCOUNTS || join(here, 'accounts.json'));
if (!env.DEMO_OIDC_CLIENTS) {
  console.error('DEMO_OIDC_CLIENTS must name a JSON file listing the clients (scripts/up.sh writes one)');
  process.exit(2);
}
const clients = readJson(env.DEMO_OIDC_CLIENTS);
const bySub = new Map(accounts.map((a) => [a.sub, a]));
const byUsername = new Map(accounts.map((a) => [a.username, a]));

const digest = (text) => createHash('sha256').update(String(text)).digest();
function checkPassword(username, password) {
  const account = byUsername.get(username);
  // Compare digests in constant time, and do the same work for unknown users.
  const expected = digest(account ? account.password : randomBytes(16).toString('hex'));
  return account && timingSafeEqual(expected, digest(password)) ? account : undefined;
}

const escape = (text) => String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0}
main{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:6px;box-shadow:0 1px 3px #0003}
h1{font-size:1.3rem;margin-top:0} label{display:block;margin:.8rem 0 .2rem}
input{width:100%;box-sizing:border-box;padding:.5rem} button{margin-top:1rem;padding:.5rem 1rem}
.error{color:#a00} .note{color:#555;font-size:.85rem}
</style></head><body><main>${body}</main></body></html>`;
}

function loginPage(uid, clientName, error = '', username = '') {
  return page('Demo identity provider: log in', `
<h1>Demo identity provider</h1>
<p>Log in to <strong>${escape(clientName)}</strong>.</p>
${error ? `<p class="error" role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
  <label for="username">User name</label>
  <input id="username" name="username" value="${escape(username)}" required autofocus>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" required>
  <button type="submit">Log in</button>
</form>
<form method="post" action="/interaction/${escape(uid)}/abort"><button type="submit">Cancel</button></form>
<p class="note">Demo accounts only (see the README). Never use this provider for real people.</p>`);
}

const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const accessTokenTtl = Number(env.DEMO_OIDC_ACCESS_TOKEN_TTL || 600);
const claimsOfScope = {
  openid: ['sub'],
  profile: ['name', 'given_name', 'family_name', 'preferred_username'],
  email: ['email', 'email_verified'],
  groups: ['groups'],
  // What Pro Santé Connect releases for its `scope_all`.
  scope_all: ['preferred_username', 'SubjectNameID', 'given_name', 'family_name', 'SubjectRefPro'],
};

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [{ ...jwk, kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' }] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  scopes: ['openid', 'offline_access', ...Object.keys(claimsOfScope).filter((s) => s !== 'openid')],
  claims: claimsOfScope,
  acrValues: [...new Set(accounts.map((a) => a.acr).filter(Boolean))],
  pkce: { required: () => true },
  ttl: { AccessToken: accessTokenTtl, IdToken: 3600, AuthorizationCode: 60, Session: 8 * 3600 },
  // The hub is a confidential client: it gets a refresh token without asking for offline_access,
  // and that token dies with the provider session (logout ends both).
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  features: {
    devInteractions: { enabled: false },
    jwtUserinfo: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = page('Demo identity provider: log out', `
<h1>Log out of the demo identity provider?</h1>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Yes, log me out</button>
<button type="submit" form="op.logoutForm">No, stay logged in</button>`);
      },
      postLogoutSuccessSource: async (ctx) => {
        ctx.body = page('Logged out', '<h1>You are logged out of the demo identity provider.</h1>');
      },
    },
  },
  findAccount: async (ctx, sub) => {
    const account = bySub.get(sub);
    if (!account) return undefined;
    return { accountId: sub, claims: async () => ({ ...account.claims, sub }) };
  },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    const rows = Object.entries(out).map(([k, v]) => `<p><strong>${escape(k)}</strong>: ${escape(v)}</p>`);
    ctx.body = page('Demo identity provider: error', `<h1>The login could not go on</h1>${rows.join('')}`);
  },
});

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16384) throw new errors.InvalidRequest('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function grantConsent(details) {
  // Demo clients are first-party: what they ask for is granted without a consent screen.
  const { prompt, params, session, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return { consent: { grantId: await grant.save() } };
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new errors.InvalidRequest('interaction mismatch');
  const client = await provider.Client.find(details.params.client_id);
  const clientName = client?.clientName || details.params.client_id;
  if (req.method === 'GET' && !action) {
    if (details.prompt.name === 'consent') {
      return provider.interactionFinished(req, res, await grantConsent(details));
    }
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    return res.end(loginPage(uid, clientName));
  }
  if (req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    const account = checkPassword(form.get('username'), form.get('password'));
    if (!account) {
      res.statusCode = 401;
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      return res.end(loginPage(uid, clientName, 'Wrong user name or password.', form.get('username') || ''));
    }
    const login = { accountId: account.sub, acr: account.acr, amr: ['pwd'] };
    return provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
  }
  if (req.method === 'POST' && action === 'abort') {
    const result = { error: 'access_denied', error_description: 'The user cancelled the login' };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  res.statusCode = 405;
  return res.end();
}

const providerCallback = provider.callback();
const server = createServer(async (req, res) => {
  const match = /^\/interaction\/([\w-]+)(?:\/(login|abort))?$/.exec(new URL(req.url, issuer).pathname);
  if (!match) return providerCallback(req, res);
  try {
    await interaction(req, res, match[1], match[2]);
  } catch (error) {
    console.error(`interaction ${match[1]}: ${error.message}`);
    res.statusCode = error.statusCode || 400;
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(page('Demo identity provider: error', `<h1>This login page has expired</h1>
<p>${escape(error.error_description || error.message)}</p><p>Go back to the hub and log in again.</p>`));
  }
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
server.listen(port, host, () => {
  console.log(`demo OpenID Connect provider: issuer ${issuer}, ${accounts.length} accounts, ${clients.length} clients`);
});
