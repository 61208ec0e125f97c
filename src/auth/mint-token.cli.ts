/**
 * `npm run token -- --tenant acme --org hq --scope identity.groups.read,identity.users.read`
 *
 * Mints an HS256 bearer token with the secret in JWT_SECRET (or `--secret`), for local use and
 * scripts. Options: --tenant (required), --org (repeatable or comma-separated; omitted = every org),
 * --scope (comma/space separated; default: all four identity scopes), --sub (default `cli`),
 * --expires (jose duration, default `1h`), --issuer / --audience (default JWT_ISSUER / JWT_AUDIENCE).
 */
import { parseArgs } from 'node:util';
import { IDENTITY_SCOPES } from './access-token.js';
import { mintHs256Token } from './token-verifier.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      tenant: { type: 'string' },
      org: { type: 'string', multiple: true },
      scope: { type: 'string', multiple: true },
      sub: { type: 'string', default: 'cli' },
      expires: { type: 'string', default: '1h' },
      secret: { type: 'string' },
      issuer: { type: 'string' },
      audience: { type: 'string' },
    },
    strict: true,
  });
  const secret = values.secret ?? process.env['JWT_SECRET'];
  if (!secret || secret.length < 32) throw new Error('Give the HS256 secret (at least 32 characters) in JWT_SECRET or --secret');
  if (!values.tenant) throw new Error('--tenant is required');
  const split = (list?: string[]) => list?.flatMap((item) => item.split(/[\s,]+/)).filter(Boolean);
  const token = await mintHs256Token(secret, {
    sub: values.sub!,
    tenant: values.tenant,
    orgs: split(values.org),
    scope: (split(values.scope) ?? [...IDENTITY_SCOPES]).join(' '),
    expiresIn: values.expires!,
    issuer: values.issuer ?? process.env['JWT_ISSUER'],
    audience: values.audience ?? process.env['JWT_AUDIENCE'],
  });
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
