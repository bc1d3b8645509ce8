#!/usr/bin/env node
// The Node.js peer of the benchmarks: what a team would otherwise deploy as a
// Cognito custom email sender. It is AWS's documented Node.js sample for the
// custom email sender trigger (the Encryption SDK for JavaScript,
// @aws-crypto/client-node, decrypting the code with a KMS keyring under the
// commitment policy REQUIRE_ENCRYPT_ALLOW_DECRYPT) completed with what the
// sample leaves as a comment: an SES v2 SendEmail of the code.
//
// Never shipped. `make bench` runs it as a whole process on the same event
// file and against the same stand-ins on 127.0.0.1 as `mailer invoke`,
// alternating with it, and compares wall time and peak memory:
//
//   AWS_ENDPOINT_URL_KMS=http://127.0.0.1:P AWS_ENDPOINT_URL_SESV2=http://127.0.0.1:Q \
//   PEER_KMS_KEY_ARN=arn:aws:kms:... node bench/node-peer.js --event testdata/events/ForgotPassword.json
//
// Like the mailer, it prints one JSON outcome line on stdout (outcome,
// message_id, duration_ms of the handler, ready_ms from process start to the
// handler being loaded) and exits 0 when the mail was sent, 4 otherwise.
// Endpoints other than http://127.0.0.1:PORT are refused.
'use strict'

const loadStart = performance.now()

const { readFileSync } = require('node:fs')
const encryptionSdk = require('@aws-crypto/client-node')
const { KMS } = require('@aws-sdk/client-kms')
const { SESv2Client, SendEmailCommand } = require('@aws-sdk/client-sesv2')

function localEndpoint (name) {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is not set: the peer runs only against stand-ins on 127.0.0.1`)
  const u = new URL(v)
  if (u.protocol !== 'http:' || u.hostname !== '127.0.0.1') {
    throw new Error(`refusing ${name}=${v}: only http://127.0.0.1:PORT stand-ins are allowed`)
  }
  return v
}

// As in AWS's sample: one Encryption SDK client and one KMS keyring per
// process, built at module load (the sample reads KEY_ARN; here
// PEER_KMS_KEY_ARN). The keyring's KMS clients point at the stand-in.
const { decrypt } = encryptionSdk.buildClient(encryptionSdk.CommitmentPolicy.REQUIRE_ENCRYPT_ALLOW_DECRYPT)
const generatorKeyId = process.env.PEER_KMS_KEY_ARN
const clientProvider = encryptionSdk.getClient(KMS, { endpoint: localEndpoint('AWS_ENDPOINT_URL_KMS') })
const keyring = new encryptionSdk.KmsKeyringNode({ clientProvider, generatorKeyId, keyIds: [] })
const ses = new SESv2Client({ endpoint: localEndpoint('AWS_ENDPOINT_URL_SESV2') })
const from = process.env.PEER_FROM || 'Phenom <noreply@thephenom.app>'

const subjects = {
  CustomEmailSender_SignUp: 'Confirm your Phenom account',
  CustomEmailSender_ResendCode: 'Your Phenom confirmation code',
  CustomEmailSender_ForgotPassword: 'Reset your Phenom password',
  CustomEmailSender_UpdateUserAttribute: 'Confirm your new email address',
  CustomEmailSender_VerifyUserAttribute: 'Verify your email address',
  CustomEmailSender_AdminCreateUser: 'Your Phenom account',
  CustomEmailSender_Authentication: 'Your Phenom sign-in code',
}

function escapeHTML (s) {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]))
}

exports.handler = async (event) => {
  // Decrypt the secret code using the Encryption SDK (the sample's step).
  let plainTextCode
  if (event.request.code) {
    const { plaintext, messageHeader } = await decrypt(keyring, Buffer.from(event.request.code, 'base64'))
    // Cognito's encryption context names the pool: the one check the
    // sample leaves out and any real deployment adds.
    if (messageHeader.encryptionContext['userpool-id'] !== event.userPoolId) {
      throw new Error('ciphertext made for another user pool')
    }
    plainTextCode = plaintext.toString('utf8')
  }
  const subject = subjects[event.triggerSource]
  if (!subject || plainTextCode === undefined) throw new Error(`unsupported trigger ${event.triggerSource}`)
  const email = event.request.userAttributes.email
  // Send the mail (the sample's "send email to end-user" comment).
  const text = `Your code is ${plainTextCode}\n\nIf you did not ask for it, ignore this mail.\n`
  const html = `<!doctype html><html><body><p>Your code is <strong>${escapeHTML(plainTextCode)}</strong></p>` +
    '<p>If you did not ask for it, ignore this mail.</p></body></html>'
  const out = await ses.send(new SendEmailCommand({
    FromEmailAddress: from,
    Destination: { ToAddresses: [email] },
    Content: {
      Simple: {
        Subject: { Data: subject, Charset: 'UTF-8' },
        Body: { Text: { Data: text, Charset: 'UTF-8' }, Html: { Data: html, Charset: 'UTF-8' } },
      },
    },
    EmailTags: [{ Name: 'trigger', Value: event.triggerSource.replace('CustomEmailSender_', '') }],
  }))
  return out.MessageId
}

async function main () {
  const readyMS = performance.now()
  const args = process.argv.slice(2)
  const i = args.indexOf('--event')
  if (i < 0 || !args[i + 1] || args.length !== 2) {
    process.stderr.write('usage: node bench/node-peer.js --event FILE\n')
    process.exit(2)
  }
  const event = JSON.parse(readFileSync(args[i + 1], 'utf8'))
  const t0 = performance.now()
  const line = { outcome: 'sent', trigger: event.triggerSource }
  let code = 0
  try {
    line.message_id = await exports.handler(event)
  } catch (err) {
    line.outcome = 'failed'
    line.error = String(err && err.name ? `${err.name}: ${err.message}` : err).slice(0, 300)
    code = 4
  }
  line.duration_ms = Math.round((performance.now() - t0) * 1000) / 1000
  line.ready_ms = Math.round(readyMS * 1000) / 1000
  line.load_ms = Math.round((readyMS - loadStart) * 1000) / 1000
  process.stdout.write(JSON.stringify(line) + '\n')
  process.exitCode = code
}

if (require.main === module) main()
