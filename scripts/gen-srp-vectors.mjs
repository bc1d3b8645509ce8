// Known-answer vectors for internal/srp, computed by amazon-cognito-identity-js
// (npm), the library the mobile app signs in with, running its own
// USER_SRP_AUTH code path on fixed inputs.
//
// The script drives CognitoUser.authenticateUser end to end against a fake
// Cognito client that answers InitiateAuth with a fixed PASSWORD_VERIFIER
// challenge and records the RespondToAuthChallenge request. The random small
// a and the clock are pinned, so every output below is what the library
// itself sends. Nothing leaves this process. Inputs come from a seeded
// SHA-256 stream, so a rerun writes the same file.
//
// Usage: node scripts/gen-srp-vectors.mjs > internal/srp/testdata/vectors.json
import { createHash, createHmac } from 'node:crypto';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const lib = require('amazon-cognito-identity-js');
const pkg = require('amazon-cognito-identity-js/package.json');
const { AuthenticationHelper, AuthenticationDetails, CognitoUser, CognitoUserPool, BigInteger } = {
  ...lib,
  BigInteger: require('amazon-cognito-identity-js/lib/BigInteger.js').default,
};

// Deterministic bytes: SHA-256(seed || label || counter) blocks.
function stream(label, n) {
  const out = [];
  for (let i = 0; out.length < n; i++) {
    out.push(...createHash('sha256').update(`phenom-srp-vectors|${label}|${i}`).digest());
  }
  return Buffer.from(out.slice(0, n));
}

const N = new BigInteger(
  'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD' +
    'EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED' +
    'EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F' +
    '83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B' +
    'E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510' +
    '15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7' +
    'ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C' +
    'BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF',
  16,
);

const RealDate = Date;
function pinClock(ms) {
  globalThis.Date = class extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(ms);
      else super(...args);
    }
    static now() {
      return ms;
    }
  };
}

// Cases: pool ids, user ids, passwords (ASCII and not), salts whose hex
// starts with a high nibble (padHex adds "00") or is odd-length, and
// instants that catch a 12-hour clock, a zero-padded day and midnight.
const cases = [
  { pool: 'us-east-1_n8gO6SbP6', user: '3c9a5e1e-8b1d-4c1f-9f0e-2d3b4a5c6d7e', password: 'Correct-Horse-9!battery', when: '2026-11-24T16:05:09Z' },
  { pool: 'us-east-1_n8gO6SbP6', user: 'test-staging@thephenom.app', password: 'p', when: '2026-01-02T00:00:00Z' },
  { pool: 'eu-west-1_AbCdEf123', user: 'qa+reset', password: 'Pässwörd-ünïcode-🔑-42', when: '2027-03-31T23:59:59Z' },
  { pool: 'us-east-1_AkG9mnbjA', user: 'a', password: 'x'.repeat(200), when: '2026-07-09T12:30:00Z' },
  { pool: 'ap-southeast-2_Z9y8X7w6V', user: 'e5f1c2d3-0000-4000-8000-000000000001', password: ' spaces and\ttabs ', when: '2026-12-10T13:01:02Z' },
  { pool: 'us-east-1_n8gO6SbP6', user: 'short-salt', password: 'Another#Pass1', when: '2028-02-29T09:09:09Z', saltBytes: 1 },
];

async function vector(c, i) {
  const aHex = stream(`a${i}`, 128).toString('hex');
  const saltBuf = stream(`salt${i}`, c.saltBytes ?? 16);
  // Exercise both padHex branches: a salt whose first nibble is >= 8 and
  // one whose first nibble is < 8.
  if (i % 2 === 0) saltBuf[0] |= 0x80;
  else saltBuf[0] &= 0x7f;
  const saltHex = saltBuf.toString('hex').replace(/^0+/, '') || '0';
  // B = g^b + k·v mod N with a made-up verifier: any B not ≡ 0 mod N is
  // what the client computes with.
  const bHex = new BigInteger(stream(`b${i}`, 384).toString('hex'), 16).mod(N).toString(16);
  const secretBlock = stream(`secret${i}`, 64 + i * 37).toString('base64');

  const a = new BigInteger(aHex, 16);
  const saved = AuthenticationHelper.prototype.generateRandomSmallA;
  AuthenticationHelper.prototype.generateRandomSmallA = () => a;
  pinClock(RealDate.parse(c.when));
  try {
    const pool = new CognitoUserPool({ UserPoolId: c.pool, ClientId: '6sjjnkaeagnqgkmbl1mr5rtfsr' });
    let initiate, respond;
    pool.client = {
      request(op, params, cb) {
        if (op === 'InitiateAuth') {
          initiate = params;
          cb(null, {
            ChallengeName: 'PASSWORD_VERIFIER',
            Session: 'session',
            ChallengeParameters: { USER_ID_FOR_SRP: c.user, SALT: saltHex, SRP_B: bHex, SECRET_BLOCK: secretBlock },
          });
        } else if (op === 'RespondToAuthChallenge') {
          respond = params;
          cb({ code: 'NotAuthorizedException', message: 'vector capture' });
        } else {
          cb({ code: 'Unexpected', message: op });
        }
      },
    };
    const user = new CognitoUser({ Username: c.user, Pool: pool });
    user.setAuthenticationFlowType('USER_SRP_AUTH');
    await new Promise((resolve) => {
      user.authenticateUser(new AuthenticationDetails({ Username: c.user, Password: c.password }), {
        onSuccess: resolve,
        onFailure: resolve,
      });
    });
    if (!initiate || !respond) throw new Error(`case ${i}: the library did not run the SRP exchange`);
    const cr = respond.ChallengeResponses;
    return {
      name: `case-${i}`,
      pool_id: c.pool,
      user_id_for_srp: c.user,
      password: c.password,
      small_a: aHex,
      salt: saltHex,
      srp_b: bHex,
      secret_block: secretBlock,
      now: c.when,
      srp_a: initiate.AuthParameters.SRP_A,
      timestamp: cr.TIMESTAMP,
      signature: cr.PASSWORD_CLAIM_SIGNATURE,
      username: cr.USERNAME,
    };
  } finally {
    AuthenticationHelper.prototype.generateRandomSmallA = saved;
    globalThis.Date = RealDate;
  }
}

// SECRET_HASH = Base64(HMAC-SHA256(key = client secret, msg = username + client id)),
// computed here with Node's own crypto (the JS library has no client secrets).
const secretHashes = [
  { username: 'test-staging@thephenom.app', client_id: '6sjjnkaeagnqgkmbl1mr5rtfsr', client_secret: 'k2o7n1v0d5s8e3u6q9r4t1m0p7l2j5h8g3f6d9s1a4z7x0c5v8b3n6m1' },
  { username: 'qa+reset', client_id: 'abc', client_secret: 's' },
].map((h) => ({ ...h, secret_hash: createHmac('sha256', h.client_secret).update(h.username + h.client_id).digest('base64') }));

const vectors = [];
for (let i = 0; i < cases.length; i++) vectors.push(await vector(cases[i], i));
process.stdout.write(
  JSON.stringify(
    { generator: `scripts/gen-srp-vectors.mjs with amazon-cognito-identity-js ${pkg.version}`, srp: vectors, secret_hash: secretHashes },
    null,
    2,
  ) + '\n',
);
