// A real OpenID Connect provider for the console's tests: npm's oidc-provider, on
// 127.0.0.1 at a free port, with one client (the registry's console), PKCE required, and a
// few people whose `roles` claim the registry maps to its roles.
//
// Usage: node oidc_provider.mjs REDIRECT_URI CLIENT_SECRET [--roles-in-userinfo]
// Prints "ISSUER http://127.0.0.1:PORT" on stdout once it listens; stops on SIGTERM.
// With --roles-in-userinfo the ID token carries no profile claims (only the userinfo
// answer has them), as many providers keep their ID tokens small.
import crypto from "node:crypto";
import http from "node:http";
import Provider from "oidc-provider";

const [redirectUri, clientSecret, ...flags] = process.argv.slice(2);
if (!redirectUri || !clientSecret) {
  process.stderr.write("usage: node oidc_provider.mjs REDIRECT_URI CLIENT_SECRET [--roles-in-userinfo]\n");
  process.exit(2);
}
const rolesInUserinfo = flags.includes("--roles-in-userinfo");

// The people this provider knows: login name -> claims.
const ACCOUNTS = {
  alice: { name: "Alice Officer", email: "alice@customs.example", roles: ["aeo-issuing", "staff"] },
  audrey: { name: "Audrey Auditor", email: "audrey@customs.example", roles: ["aeo-audit"] },
  nora: { name: "Nora Noroles", email: "nora@customs.example", roles: ["staff"] },
};

const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: "jwk" }), kid: "test-key-1", use: "sig", alg: "RS256" };

const server = http.createServer();
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "aeo-console",
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      response_types: ["code"],
      grant_types: ["authorization_code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  pkce: { required: () => true },
  jwks: { keys: [signingKey] },
  cookies: {
    keys: [crypto.randomBytes(32).toString("hex")],
    long: { signed: true, sameSite: "lax" },
    short: { signed: true, sameSite: "lax" },
  },
  claims: {
    openid: ["sub"],
    profile: ["name", "preferred_username", "roles"],
    email: ["email"],
  },
  conformIdTokenClaims: rolesInUserinfo,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // A first-party client: every person's consent is given (no consent page).
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope("openid profile email");
    await grant.save();
    return grant;
  },
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: `sub-${id}`, preferred_username: id, ...account };
      },
    };
  },
});
provider.proxy = false;

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readForm(req) {
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 10000) throw new Error("form too large");
  }
  return new URLSearchParams(body);
}

const callback = provider.callback();
server.on("request", async (req, res) => {
  const match = /^\/interaction\/([^/]+)(\/login)?$/.exec(new URL(req.url, issuer).pathname);
  if (!match) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    if (req.method === "GET") {
      res.setHeader("Content-Type", "text/html; charset=utf-8");
      res.end(`<!DOCTYPE html><html lang="en"><head><title>Test identity provider</title></head>
<body><main><h1>Test identity provider</h1>
<form method="post" action="/interaction/${escape(details.uid)}/login">
<label for="login">User name</label> <input id="login" name="login" autocomplete="off">
<button type="submit">Sign in to the provider</button></form></main></body></html>`);
      return;
    }
    const form = await readForm(req);
    const login = form.get("login") || "";
    if (!ACCOUNTS[login]) {
      res.statusCode = 400;
      res.end("unknown user");
      return;
    }
    await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  } catch (error) {
    res.statusCode = 500;
    res.end(String(error));
  }
});

process.stdout.write(`ISSUER ${issuer}\n`);
process.on("SIGTERM", () => server.close(() => process.exit(0)));
