'use strict'
// kafkajs over Pier's SASL and TLS listeners, one fresh broker per test.
// A round trip produces 20 distinct values over one listener and reads them
// back over the same listener with a consumer group; the values read must be
// exactly those sent (as a multiset: a lost or duplicated record fails).
// Refused clients must fail with the specific error within a few seconds,
// and the same broker must then serve a correctly configured client (the
// control: a broker refusing everything fails too).
// Run: node --test tests/clients/node/security.test.js   (after tests/clients/setup.sh)

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const { Kafka, logLevel, Partitioners } = require('kafkajs')
const { withPier, killAll } = require('./pier')

const TEST_TIMEOUT_MS = 60000
const REFUSAL_TIMEOUT_MS = 10000
const RECORDS = 20
const USER = 'alice'
const PASSWORD = 'wonderland'
const SECURE_BROKER = {
  tlsInit: {},
  extraArgs: [
    '--sasl-user', `${USER}:${PASSWORD}`,
    '--kafka-listener', 'SASL_PLAINTEXT://127.0.0.1:0',
    '--kafka-listener', 'SSL://127.0.0.1:0',
    '--kafka-listener', 'SASL_SSL://127.0.0.1:0'
  ]
}

after(() => {
  killAll()
  // A client stuck on a dead socket must not keep this file's process alive.
  setTimeout(() => process.exit(), 5000).unref()
})

const unique = prefix => `${prefix}-${crypto.randomBytes(5).toString('hex')}`
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

async function waitFor (predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await predicate()) return
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`)
    }
    await sleep(100)
  }
}

// `promise`, or a rejection if it takes longer than `ms`.
async function within (ms, what, promise) {
  let timer
  const timeout = new Promise((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

// kafkajs settings for a listener: protocol is PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
function kafkaFor (pier, protocol, { mechanism, username = USER, password = PASSWORD, clientId = 'pier-test-kafkajs', retries = 8 } = {}) {
  const brokers = [protocol === 'PLAINTEXT' ? pier.bootstrap : pier.listeners[protocol.toLowerCase()]]
  assert.ok(brokers[0], `pier printed no ${protocol} listener`)
  const cfg = {
    clientId,
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5000,
    requestTimeout: 15000,
    retry: { retries, initialRetryTime: 100, maxRetryTime: 1000 }
  }
  if (protocol === 'SSL' || protocol === 'SASL_SSL') cfg.ssl = { ca: [fs.readFileSync(pier.caFile, 'utf-8')] }
  if (protocol.startsWith('SASL_')) cfg.sasl = { mechanism, username, password }
  return { kafka: new Kafka(cfg), bootstrap: brokers[0] }
}

// A client with neither TLS nor SASL, retrying little, for a secured port.
function plaintextClient (broker, clientId) {
  return new Kafka({
    clientId,
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5000,
    requestTimeout: 5000,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 }
  })
}

function assertSameValues (sent, got, what) {
  const count = values => values.reduce((m, v) => m.set(v, (m.get(v) || 0) + 1), new Map())
  const want = count(sent)
  const have = count(got)
  const missing = [...want].filter(([v, n]) => (have.get(v) || 0) < n).map(([v]) => v)
  const extra = [...have].filter(([v, n]) => (want.get(v) || 0) < n).map(([v]) => v)
  assert.ok(missing.length === 0 && extra.length === 0,
    `${what}: missing ${JSON.stringify(missing.slice(0, 5))}, unexpected or duplicated ${JSON.stringify(extra.slice(0, 5))} ` +
    `(${got.length} read, ${sent.length} sent)`)
}

// Produces RECORDS distinct values to a new topic, consumes them with a new
// group over the same listener and waits for the group's commit.
async function roundTrip (pier, protocol, opts, what) {
  const { kafka, bootstrap } = kafkaFor(pier, protocol, opts)
  const topic = unique('kjs-sec')
  const groupId = unique('kjs-sec-g')
  const values = Array.from({ length: RECORDS }, (_, i) => `${what} ${crypto.randomBytes(4).toString('hex')} #${i}`)

  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  try {
    const res = await producer.send({ topic, acks: -1, messages: values.map(value => ({ value })) })
    assert.equal(res[0].baseOffset, '0', `${what}: first offset`)
  } finally {
    await producer.disconnect()
  }

  const admin = kafka.admin()
  await admin.connect()
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000, maxWaitTimeInMs: 200 })
  const got = []
  let crashed = null
  consumer.on(consumer.events.CRASH, e => { crashed = e.payload.error })
  try {
    // Every broker the client learns of must be this listener.
    const { brokers } = await admin.describeCluster()
    assert.deepEqual(brokers.map(b => `${b.host}:${b.port}`), [bootstrap], `${what}: advertised brokers`)

    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({ eachMessage: async ({ message }) => { got.push(message.value.toString()) } })
    await waitFor(() => {
      if (crashed) throw crashed
      return got.length >= RECORDS
    }, 20000, () => `${what}: ${RECORDS} records (have ${got.length})`)
    await waitFor(async () => {
      const offsets = await admin.fetchOffsets({ groupId, topics: [topic] })
      return offsets[0].partitions.find(p => p.partition === 0).offset === String(RECORDS)
    }, 15000, `${what}: the group to commit offset ${RECORDS}`)
    await sleep(500) // any surplus (duplicates) arrives meanwhile
  } finally {
    await consumer.disconnect()
    await admin.disconnect()
  }
  assertSameValues(values, got, what)
}

// Connects a producer that the broker must refuse; resolves to the error.
async function refused (kafka, what) {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  const attempt = (async () => {
    await producer.connect()
    await producer.send({ topic: unique('kjs-refused'), acks: -1, messages: [{ value: 'must not be stored' }] })
  })()
  let error = null
  try {
    await within(REFUSAL_TIMEOUT_MS, `${what}: the refusal`, attempt)
  } catch (e) {
    error = e
  } finally {
    await producer.disconnect().catch(() => {})
  }
  assert.ok(error, `${what}: the broker accepted the client and stored its record`)
  assert.doesNotMatch(error.message, /took longer than/, `${what}: ${error.message}`)
  return error
}

const errorChain = e => { const out = []; for (; e; e = e.cause || e.originalError) out.push(e); return out }
const stripAnsi = s => s.replace(/\x1b\[[0-9;]*m/g, '') // eslint-disable-line no-control-regex

async function assertPierWarned (pier, needle) {
  await waitFor(() => pier.stderrLines().map(stripAnsi).some(l => / WARN /.test(l) && l.includes(needle)),
    5000, () => `a WARN line with ${needle} in pier's stderr\n${pier.stderrTail(20)}`)
}

const ROUND_TRIPS = [
  ['SASL_PLAINTEXT', 'plain'],
  ['SASL_PLAINTEXT', 'scram-sha-256'],
  ['SASL_PLAINTEXT', 'scram-sha-512'],
  ['SSL', undefined],
  ['SASL_SSL', 'plain'],
  ['SASL_SSL', 'scram-sha-512']
]

for (const [protocol, mechanism] of ROUND_TRIPS) {
  const name = mechanism ? `${protocol} ${mechanism}` : protocol
  test(`round trip over ${name}`, { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPier(pier => roundTrip(pier, protocol, { mechanism }, `kafkajs over ${name}`), SECURE_BROKER)
  })
}

for (const [protocol, mechanism] of [['SASL_PLAINTEXT', 'plain'], ['SASL_PLAINTEXT', 'scram-sha-256'],
  ['SASL_PLAINTEXT', 'scram-sha-512'], ['SASL_SSL', 'scram-sha-512']]) {
  test(`${protocol} ${mechanism}: a wrong password and an unknown user fail with KafkaJSSASLAuthenticationError`, { timeout: TEST_TIMEOUT_MS }, async () => {
    await withPier(async pier => {
      for (const [username, password] of [[USER, `${PASSWORD}-wrong`], ['mallory', PASSWORD]]) {
        const what = `${username}/${password} over ${protocol} ${mechanism}`
        const clientId = unique('pier-test-kafkajs-badauth')
        const { kafka } = kafkaFor(pier, protocol, { mechanism, username, password, clientId })
        const error = await refused(kafka, what)
        assert.equal(error.name, 'KafkaJSSASLAuthenticationError', `${what}: ${error.name}: ${error.message}`)
        assert.match(error.message, /invalid credentials/, what)
        assert.ok(error.message.includes(mechanism.toUpperCase()), `${what}: ${error.message}`)
        await assertPierWarned(pier, `client_id="${clientId}"`)
      }
      await roundTrip(pier, protocol, { mechanism }, `kafkajs over ${protocol} ${mechanism} after the refusals`)
    }, SECURE_BROKER)
  })
}

test('a plaintext client on the SSL port gets a connection error; the broker keeps serving', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withPier(async pier => {
    const error = await refused(plaintextClient(pier.listeners.ssl, 'pier-test-kafkajs-plain-on-ssl'),
      'plaintext client on the SSL port')
    const names = errorChain(error).map(e => e.name)
    assert.ok(names.some(n => n === 'KafkaJSConnectionClosedError' || n === 'KafkaJSConnectionError'),
      `want a connection error, got ${names.join(' <- ')}: ${error.message}`)
    assert.ok(!names.includes('KafkaJSSASLAuthenticationError'), names.join(' <- '))
    await assertPierWarned(pier, 'TLS handshake failed')
    await roundTrip(pier, 'PLAINTEXT', {}, 'kafkajs over PLAINTEXT after the refusals')
    await roundTrip(pier, 'SSL', {}, 'kafkajs over SSL after the refusals')
  }, SECURE_BROKER)
})

test('a client without SASL on the SASL_PLAINTEXT port is refused; the broker keeps serving', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withPier(async pier => {
    const clientId = unique('pier-test-kafkajs-nosasl')
    const error = await refused(plaintextClient(pier.listeners.sasl_plaintext, clientId),
      'client without SASL on the SASL_PLAINTEXT port')
    const names = errorChain(error).map(e => e.name)
    assert.ok(names.some(n => n === 'KafkaJSConnectionClosedError' || n === 'KafkaJSConnectionError'),
      `want a connection error, got ${names.join(' <- ')}: ${error.message}`)
    await assertPierWarned(pier, `client_id="${clientId}"`)
    await roundTrip(pier, 'SASL_PLAINTEXT', { mechanism: 'scram-sha-256' }, 'kafkajs over SASL_PLAINTEXT after the refusals')
  }, SECURE_BROKER)
})

test('an expired server certificate is refused (certificate has expired); plaintext still works', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withPier(async pier => {
    const { kafka } = kafkaFor(pier, 'SSL', { retries: 1, clientId: unique('pier-test-kafkajs-expired') })
    const error = await refused(kafka, 'TLS client against an expired certificate')
    const messages = errorChain(error).map(e => `${e.name}: ${e.message}`)
    assert.ok(messages.some(m => /certificate has expired/.test(m)), messages.join(' <- '))
    await assertPierWarned(pier, 'TLS handshake failed')
    await roundTrip(pier, 'PLAINTEXT', {}, 'kafkajs over PLAINTEXT of the expired-certificate broker')
  }, { ...SECURE_BROKER, tlsInit: { expired: true } })
})
