// A real OpenID Provider (panva's certified `oidc-provider`) for the Python identity tests.
//
// Test-only: in-memory storage, devInteractions (login as any configured account, no password
// check), a signing key generated at every start. Never use this outside tests.
//
// Configuration comes as JSON in the OIDC_TEST_CONFIG environment variable:
//   {
//     "port": 43210,
//     "clients": [{"client_id": "...", "client_secret": "...",
//                  "redirect_uris": ["http://hanoi.localhost:43123/auth/callback"],
//                  "post_logout_redirect_uris": ["http://hanoi.localhost:43123/"],
//                  "token_endpoint_auth_method": "client_secret_basic"}],   // optional, this is the default
//     "accounts": {"an": {"sub": "an", "name": "Nguyễn Văn An", "personal_id": "001085012345", ...}},
//     "conform_id_token_claims": true                                      // optional, default true
//   }
//
// Prints exactly one line `READY <issuer>` on stdout once listening; exits 0 on SIGTERM/SIGINT.
// Everything else (provider warnings, errors) goes to stderr.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import process from 'node:process';

// oidc-provider 9 prints a one-line "Unsupported runtime" warning on Node 20 (it wants an LTS
// release >= 22); the features used here work on Node >= 20.19, which the harness is tested on.
// Silence the warning so it doesn't look like a failure in test output.
const nodeMajor = Number(process.versions.node.split('.')[0]);
const originalWarn = console.warn;
if (nodeMajor < 22) {
  console.warn = (...args) => {
    if (typeof args[0] === 'string' && args[0].includes('Unsupported runtime')) return;
    originalWarn(...args);
  };
}
const { default: Provider, errors } = await import('oidc-provider');
console.warn = originalWarn;

function fail(message) {
  process.stderr.write(`oidc test provider: ${message}\n`);
  process.exit(2);
}

let config;
try {
  config = JSON.parse(process.env.OIDC_TEST_CONFIG ?? '');
} catch (err) {
  fail(`OIDC_TEST_CONFIG must hold a JSON object (${err.message})`);
}

const port = Number(config.port);
if (!Number.isInteger(port) || port <= 0 || port > 65535) fail('config.port must be a TCP port number');
const accounts = config.accounts ?? {};
const conformIdTokenClaims = config.conform_id_token_claims ?? true;
const issuer = `http://127.0.0.1:${port}`;

// Clients are plain OIDC client metadata. They are "web" clients (application_type defaults to
// "web"), which is what lets http://<tenant>.localhost:<port>/... redirect URIs through:
//   - for application_type "web" oidc-provider accepts any http: or https: redirect URI as long as
//     the client does not use the implicit grant (http and `localhost` are only forbidden for
//     implicit clients), so the defaults grant_types ["authorization_code"] / response_types
//     ["code"] are all it needs;
//   - application_type "native" would NOT work: there, http: redirect URIs are only allowed for the
//     literal loopback hosts localhost / 127.0.0.1 / [::1], not *.localhost subdomains.
// Matching at the authorization and end_session endpoints is exact string comparison (scheme, host,
// port, path), so register the precise URI including the port; the port-agnostic loopback matching
// of RFC 8252 only exists for native clients.
const clients = (config.clients ?? []).map((client) => ({
  token_endpoint_auth_method: 'client_secret_basic',
  ...client,
  application_type: 'web',
  grant_types: ['authorization_code'],
  response_types: ['code'],
  id_token_signed_response_alg: 'RS256',
}));

// An RSA key for RS256 ID tokens, fresh at every start (tests fetch it through jwks_uri).
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: `test-${randomBytes(6).toString('hex')}`,
  alg: 'RS256',
  use: 'sig',
};

// Claims released per scope. `personal_id` is our custom scope carrying the CCCD number.
const claims = {
  openid: ['sub'],
  profile: ['name', 'birthdate', 'gender'],
  email: ['email', 'email_verified'],
  phone: ['phone_number', 'phone_number_verified'],
  address: ['address'],
  personal_id: ['personal_id'],
};

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims,
  scopes: Object.keys(claims),
  responseTypes: ['code'], // authorization code flow only
  // true (the spec-conforming default): claims requested through scopes are only released from
  // userinfo when an access token is issued; false: they are put into the ID token as well.
  conformIdTokenClaims,
  // Every client must send a PKCE challenge; the provider only implements S256.
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true }, // built-in login/consent pages (any login, any password)
    rpInitiatedLogout: { enabled: true }, // end_session_endpoint with post_logout_redirect_uris
    userinfo: { enabled: true },
  },
  async findAccount(ctx, id) {
    if (!Object.hasOwn(accounts, id)) return undefined;
    const accountClaims = accounts[id];
    return {
      accountId: id,
      // The provider filters this down to what the granted scopes/claims allow.
      async claims() {
        return { ...accountClaims, sub: accountClaims.sub ?? id };
      },
    };
  },
  clientBasedCORS: () => false,
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 600,
    IdToken: 3600,
    Interaction: 3600,
    Session: 86400,
    Grant: 86400,
  },
});

// Static clients are only validated when first used; do it now so bad metadata fails the start-up
// (with the provider's message on stderr) rather than the first authorization request.
for (const { client_id: clientId } of clients) {
  try {
    if (!(await provider.Client.find(String(clientId)))) fail(`client ${JSON.stringify(clientId)} not loaded`);
  } catch (err) {
    fail(`client ${JSON.stringify(clientId)}: ${err.message}${err.error_description ? ` (${err.error_description})` : ''}`);
  }
}

// devInteractions accepts any login name. Refuse ids that are not configured accounts at the login
// step, so a typo in a test fails loudly (HTTP 400 page at the provider, like a real IdP refusing
// the credentials) instead of producing a half-broken session.
const interactionFinished = provider.interactionFinished.bind(provider);
provider.interactionFinished = async (req, res, result, options) => {
  const accountId = result?.login?.accountId;
  if (accountId !== undefined && !Object.hasOwn(accounts, accountId)) {
    throw new errors.InvalidRequest(`unknown test account ${JSON.stringify(accountId)}`);
  }
  return interactionFinished(req, res, result, options);
};

provider.on('server_error', (ctx, err) => {
  process.stderr.write(`oidc test provider: server_error ${err?.stack ?? err}\n`);
});

const server = createServer(provider.callback());
server.on('error', (err) => fail(`cannot listen on 127.0.0.1:${port}: ${err.message}`));
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`READY ${issuer}\n`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
