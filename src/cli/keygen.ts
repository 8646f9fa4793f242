/**
 * `sessionward keygen` and `sessionward keys rotate`: fresh keys in exactly the shape each option
 * takes, and the steps of a rotation without logging anyone out.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { CliIo } from './io.js';
import { UsageError } from './cleanup.js';

// src/cli/index.ts repeats this list (it loads this file only when a key command runs).
export const KEY_KINDS = ['session', 'sealed', 'jwt-hs256', 'jwt-es256', 'jwt-eddsa'] as const;
export type KeyKind = (typeof KEY_KINDS)[number];

export interface KeygenArgs {
  kind: string;
  id?: string;
  json: boolean;
}

function defaultId(): string {
  // Sortable and short: fits the sealed key id rule ([A-Za-z0-9_-]{1,16}).
  return `k${new Date().toISOString().slice(0, 10).replace(/-/g, '')}${randomBytes(2).toString('hex')}`;
}

/** The new key in the option's own format, and where it goes. */
export function generateKey(kind: KeyKind, id = defaultId()): { value: unknown; option: string } {
  switch (kind) {
    case 'session':
      return { value: randomBytes(32).toString('base64url'), option: 'SessionManager({ secrets: [NEW, ...older] })' };
    case 'sealed':
      return { value: { id, key: randomBytes(32).toString('base64url') }, option: 'createSealedSessions({ keys: [NEW, ...older] })' };
    case 'jwt-hs256':
      return { value: { kid: id, secret: randomBytes(32).toString('base64url'), algorithms: ['HS256'] }, option: 'JwtKeyRing / JwtSigner keys: [NEW, ...older]' };
    case 'jwt-es256':
    case 'jwt-eddsa': {
      const alg = kind === 'jwt-es256' ? 'ES256' : 'EdDSA';
      const { privateKey, publicKey } = kind === 'jwt-es256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
      const jwk = (k: typeof privateKey) => ({ ...k.export({ format: 'jwk' }), kid: id, alg, use: 'sig' });
      return {
        value: { kid: id, key: jwk(privateKey), algorithms: [alg], publicJwk: jwk(publicKey) },
        option: 'JwtKeyRing / JwtSigner keys: [{ kid, key, algorithms }, ...older]; publish publicJwk in your JWKS',
      };
    }
  }
}

function kindOf(k: string): KeyKind {
  const kind = KEY_KINDS.find((x) => x === k);
  if (!kind) throw new UsageError(`--kind must be one of ${KEY_KINDS.join(', ')}`);
  return kind;
}

/**
 * @example
 * await runKeygen({ kind: 'sealed', json: true }, io)
 */
export function runKeygen(a: KeygenArgs, io: CliIo): number {
  const kind = kindOf(a.kind);
  if (a.id !== undefined && !/^[A-Za-z0-9_-]{1,16}$/.test(a.id)) throw new UsageError('--id must be 1-16 characters of [A-Za-z0-9_-]');
  const { value, option } = generateKey(kind, a.id);
  if (a.json) io.out(JSON.stringify({ kind, key: value }));
  else {
    io.out(typeof value === 'string' ? value : JSON.stringify(value, null, 2));
    io.err(`# ${kind} key for ${option}; keep it secret (environment or a secret manager, never the repository)`);
  }
  return 0;
}

/** Rotation steps per kind (docs/cli.md repeats them). */
export function rotationSteps(kind: KeyKind): string[] {
  const gen = `sessionward keygen --kind ${kind}`;
  const common = [
    `1. Generate the new key: ${gen}`,
    '2. Put it FIRST in the key list of every instance, keeping the old keys after it: the first key signs, every key verifies.',
    '3. Deploy everywhere. Cookies and tokens made with an older key keep working',
  ];
  switch (kind) {
    case 'session':
      return [...common.slice(0, 2), `${common[2]} and are re-issued under the new key on their next request.`, '4. After the absolute session timeout (default 12 h) has passed, remove the old secret.', 'Compromised key? Remove it at once: every session it signed is logged out.'];
    case 'sealed':
      return [...common.slice(0, 2), `${common[2]}; an opened seal is re-sealed with the new key.`, '4. After the longest cookie lifetime has passed, remove the old key (its id then reads as unknown-key).', 'Compromised key? Remove it at once and revoke its sessions.'];
    default:
      return [
        ...common.slice(0, 2),
        `${common[2]} until they expire.`,
        kind === 'jwt-hs256' ? '4. Verifiers need the same secret list.' : '4. Publish the new public JWK in your JWKS before signing with it, so verifiers know it first.',
        '5. After the access-token lifetime has passed, remove the old key (and its JWK from the JWKS).',
      ];
  }
}

/**
 * @example
 * runKeysRotate({ kind: 'session', json: false }, io)
 */
export function runKeysRotate(a: { kind: string; json: boolean }, io: CliIo): number {
  const kind = kindOf(a.kind);
  const steps = rotationSteps(kind);
  io.out(a.json ? JSON.stringify({ kind, steps }) : [`Rotating a ${kind} key without logging anyone out:`, ...steps.map((s) => `  ${s}`)].join('\n'));
  return 0;
}
