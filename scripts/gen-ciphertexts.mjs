#!/usr/bin/env node
// Mints Cognito-shaped AWS Encryption SDK ciphertexts with the independent
// JavaScript implementation (@aws-crypto/client-node), through a KMS
// stand-in on 127.0.0.1 (never a real KMS). Test tooling only.
//
// Usage (from the repository root):
//
//   node scripts/gen-ciphertexts.mjs [--kms-endpoint URL]
//       Regenerates testdata/ciphertexts/fixtures.json and
//       testdata/events/<Trigger>.json. scripts/gen-ciphertexts.sh starts
//       the KMS stand-in and runs this; use that.
//
//   node scripts/gen-ciphertexts.mjs --stdin [--kms-endpoint URL]
//       Reads a JSON list of cases [{name, suite, pool, key_id, plaintext}]
//       on stdin and writes the matching fixtures (the same objects plus
//       "ciphertext") as JSON on stdout. standin.EncryptWithNode uses this.
//
// The endpoint comes from --kms-endpoint or AWS_ENDPOINT_URL_KMS and must
// be http://127.0.0.1:PORT.
//
// Shapes:
//   0x0378: ALG_AES256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384, message format
//           v1, encryption context {"userpool-id": pool} (the SDK adds
//           "aws-crypto-public-key" itself): what Cognito sends.
//   0x0578: ALG_AES256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384, format v2:
//           what cognito-local sends (with no encryption context).
//
// The Encryption SDK refuses to *encrypt* with a non-committing suite under
// a REQUIRE_ENCRYPT_* policy, so 0x0378 is minted by a client built with
// FORBID_ENCRYPT_ALLOW_DECRYPT and 0x0578 by one built with
// REQUIRE_ENCRYPT_ALLOW_DECRYPT (the policy the mailer decrypts with).

import { writeFileSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  AlgorithmSuiteIdentifier,
  CommitmentPolicy,
  KmsKeyringNode,
  buildClient,
  getClient,
} from '@aws-crypto/client-node'
import { KMS } from '@aws-sdk/client-kms'

// Node 20 is fine for this tooling; keep the SDK's support notice off stderr.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

const REGION = 'us-east-1'
const ACCOUNT = '111122223333'
const STAGING_KEY = '0d6f3c1e-6a39-4c5a-9d0e-2f1b7a3c5e01'
const DEVLOCAL_KEY = '0d6f3c1e-6a39-4c5a-9d0e-2f1b7a3c5e02'
const OTHER_KEY = '0d6f3c1e-6a39-4c5a-9d0e-2f1b7a3c5e09'
const STAGING_POOL = 'us-east-1_n8gO6SbP6'
const DEVLOCAL_POOL = 'us-east-1_AkG9mnbjA'

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..')

function parseArgs (argv) {
  const args = { stdin: false, endpoint: process.env.AWS_ENDPOINT_URL_KMS || '' }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--stdin') args.stdin = true
    else if (a === '--kms-endpoint') args.endpoint = argv[++i] || ''
    else if (a.startsWith('--kms-endpoint=')) args.endpoint = a.slice('--kms-endpoint='.length)
    else throw new Error(`unknown argument ${a}`)
  }
  if (!args.endpoint) throw new Error('no KMS endpoint: pass --kms-endpoint or set AWS_ENDPOINT_URL_KMS')
  const u = new URL(args.endpoint)
  if (u.protocol !== 'http:' || u.hostname !== '127.0.0.1') {
    throw new Error(`refusing KMS endpoint ${args.endpoint}: only http://127.0.0.1:PORT stand-ins are allowed`)
  }
  return args
}

function keyArn (keyId) {
  return keyId.startsWith('arn:') ? keyId : `arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId}`
}

const SUITES = {
  '0x0378': {
    id: AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384,
    policy: CommitmentPolicy.FORBID_ENCRYPT_ALLOW_DECRYPT,
  },
  '0x0578': {
    id: AlgorithmSuiteIdentifier.ALG_AES256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
    policy: CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT,
  },
}

function makeEncrypter (endpoint) {
  const clientProvider = getClient(KMS, {
    endpoint,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  })
  const clients = {}
  for (const [name, s] of Object.entries(SUITES)) {
    clients[name] = buildClient(s.policy)
  }
  return async function encryptCase (c) {
    const suite = SUITES[c.suite]
    if (!suite) throw new Error(`case ${c.name}: unknown suite ${c.suite} (want 0x0378 or 0x0578)`)
    if (typeof c.plaintext !== 'string') throw new Error(`case ${c.name}: plaintext must be a string`)
    if (!c.key_id) throw new Error(`case ${c.name}: key_id is required`)
    const keyring = new KmsKeyringNode({ clientProvider, generatorKeyId: keyArn(c.key_id) })
    const encryptionContext = c.pool ? { 'userpool-id': c.pool } : {}
    const { result } = await clients[c.suite].encrypt(keyring, Buffer.from(c.plaintext, 'utf8'), {
      suiteId: suite.id,
      encryptionContext,
    })
    return {
      name: c.name,
      suite: c.suite,
      pool: c.pool || '',
      key_id: c.key_id,
      plaintext: c.plaintext,
      ciphertext: Buffer.from(result).toString('base64'),
    }
  }
}

function stableJSON (v) {
  return JSON.stringify(v, null, 2) + '\n'
}

const FIXTURE_CASES = [
  { name: 'cognito-staging', suite: '0x0378', pool: STAGING_POOL, key_id: STAGING_KEY, plaintext: '123456' },
  { name: 'cognito-devlocal', suite: '0x0378', pool: DEVLOCAL_POOL, key_id: DEVLOCAL_KEY, plaintext: '654321' },
  { name: 'committing-nocontext', suite: '0x0578', pool: '', key_id: STAGING_KEY, plaintext: '222333' },
  { name: 'other-pool', suite: '0x0378', pool: 'us-east-1_OtherPool1', key_id: STAGING_KEY, plaintext: '999000' },
  { name: 'unknown-key', suite: '0x0378', pool: STAGING_POOL, key_id: OTHER_KEY, plaintext: '777888' },
  { name: 'no-context-0378', suite: '0x0378', pool: '', key_id: STAGING_KEY, plaintext: '313131' },
  // Cognito HTML-escapes < and > inside temporary passwords.
  { name: 'admin-temp-password', suite: '0x0378', pool: STAGING_POOL, key_id: STAGING_KEY, plaintext: 'Tmp&lt;Pass&gt;9!x' },
]

const SUB = '5f3c9a2e-8d41-4b7a-9c1e-2a6b8d0f4e13'

// Fake codes per trigger (AdminCreateUser carries the temporary password).
const TRIGGERS = [
  ['SignUp', '482913'],
  ['ResendCode', '275604'],
  ['ForgotPassword', '836251'],
  ['UpdateUserAttribute', '519377'],
  ['VerifyUserAttribute', '640182'],
  ['AdminCreateUser', 'Tmp&lt;Pass&gt;9!x'],
  ['AccountTakeOverNotification', null],
  ['Authentication', '093748'],
]

async function makeEvent (encryptCase, trigger, plaintext) {
  let code = null
  let userAttributes
  if (trigger === 'AccountTakeOverNotification') {
    userAttributes = {
      EVENT_ID: 'b7e2c4d1-3f5a-4e8b-9a6c-0d1e2f3a4b5c',
      USER_NAME: SUB,
      IP_ADDRESS: '203.0.113.7',
      ACCOUNT_TAKE_OVER_ACTION: 'BLOCK',
      ONE_CLICK_LINK_VALID: 'https://thephenom.app/account/security/feedback?event=b7e2c4d1-3f5a-4e8b-9a6c-0d1e2f3a4b5c&valid=true&token=fake-feedback-token',
      ONE_CLICK_LINK_INVALID: 'https://thephenom.app/account/security/feedback?event=b7e2c4d1-3f5a-4e8b-9a6c-0d1e2f3a4b5c&valid=false&token=fake-feedback-token',
      LOGIN_TIME: '2026-11-24T09:41:07Z',
      FEEDBACK_TOKEN: 'ZmFrZS1mZWVkYmFjay10b2tlbi1mb3ItdGVzdHMtb25seQ==',
      CITY: 'Lisbon',
      COUNTRY: 'Portugal',
      DEVICE_NAME: 'Chrome on macOS',
      email: 'test-staging@thephenom.app',
    }
  } else {
    const f = await encryptCase({
      name: trigger, suite: '0x0378', pool: STAGING_POOL, key_id: STAGING_KEY, plaintext,
    })
    code = f.ciphertext
    userAttributes = {
      sub: SUB,
      email: trigger === 'ForgotPassword' ? 'qa+reset@thephenom.app' : 'test-staging@thephenom.app',
      email_verified: 'true',
      locale: 'en',
    }
  }
  return {
    version: '1',
    triggerSource: `CustomEmailSender_${trigger}`,
    region: REGION,
    userPoolId: STAGING_POOL,
    userName: SUB,
    callerContext: {
      awsSdkVersion: 'aws-sdk-unknown-unknown',
      clientId: '6sjjnkaeagnqgkmbl1mr5rtfsr',
    },
    request: {
      type: 'customEmailSenderRequestV1',
      code,
      clientMetadata: null,
      userAttributes,
    },
    response: {},
  }
}

async function readStdin () {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

async function main () {
  const args = parseArgs(process.argv.slice(2))
  const encryptCase = makeEncrypter(args.endpoint)

  if (args.stdin) {
    const cases = JSON.parse(await readStdin())
    if (!Array.isArray(cases)) throw new Error('stdin must hold a JSON list of cases')
    const out = []
    for (const c of cases) out.push(await encryptCase(c))
    process.stdout.write(JSON.stringify(out) + '\n')
    return
  }

  const fixtures = []
  for (const c of FIXTURE_CASES) fixtures.push(await encryptCase(c))
  const ctDir = join(repoRoot, 'testdata', 'ciphertexts')
  mkdirSync(ctDir, { recursive: true })
  writeFileSync(join(ctDir, 'fixtures.json'), stableJSON(fixtures))

  const evDir = join(repoRoot, 'testdata', 'events')
  mkdirSync(evDir, { recursive: true })
  for (const [trigger, plaintext] of TRIGGERS) {
    const ev = await makeEvent(encryptCase, trigger, plaintext)
    writeFileSync(join(evDir, `${trigger}.json`), stableJSON(ev))
  }
  process.stderr.write(`wrote ${fixtures.length} ciphertext fixtures and ${TRIGGERS.length} events\n`)
}

main().catch((err) => {
  process.stderr.write(`gen-ciphertexts: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
