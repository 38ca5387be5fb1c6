'use strict'
// kafkajs against a real Pier broker, one fresh broker per test.
// Run: node --test tests/clients/node/   (after tests/clients/setup.sh)

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const { Kafka, logLevel, CompressionTypes, Partitioners } = require('kafkajs')
const { withPier, killAll } = require('./pier')

const TEST_TIMEOUT_MS = 90000

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

function client (pier) {
  return new Kafka({
    clientId: 'pier-test-kafkajs',
    brokers: [pier.bootstrap],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 5000,
    requestTimeout: 15000,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 }
  })
}

function newProducer (kafka, opts = {}) {
  return kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, ...opts })
}

// Starts a group consumer on `topic` from the beginning; records every
// message. Returns { got, stop, crashed }.
async function startConsumer (kafka, topic, groupId) {
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 10000,
    heartbeatInterval: 1000,
    maxWaitTimeInMs: 200,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 }
  })
  const state = { got: [], crashed: null }
  consumer.on(consumer.events.CRASH, e => { state.crashed = e.payload.error })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      state.got.push({
        topic,
        partition,
        offset: Number(message.offset),
        key: message.key === null ? null : message.key.toString(),
        value: message.value === null ? null : message.value.toString()
      })
    }
  })
  state.stop = () => consumer.disconnect()
  state.until = async (count, timeoutMs = 30000) => {
    await waitFor(() => {
      if (state.crashed) throw state.crashed
      return state.got.length >= count
    }, timeoutMs, () => `${count} messages (have ${state.got.length})`)
  }
  return state
}

// Consumes `count` messages then waits `settleMs` for any surplus.
async function consumeAll (kafka, topic, count, settleMs = 1000) {
  const c = await startConsumer(kafka, topic, unique('reader'))
  try {
    await c.until(count)
    await sleep(settleMs)
    return c.got.slice()
  } finally {
    await c.stop()
  }
}

const range = (from, to) => Array.from({ length: to - from }, (_, i) => from + i)

test('produce and consume with a consumer group; a new member resumes at the committed offset', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withPier(async pier => {
    const kafka = client(pier)
    const topic = unique('kjs-group')
    const groupId = unique('kjs-g')
    const producer = newProducer(kafka)
    await producer.connect()
    try {
      const first = range(0, 50).map(i => ({ key: `k${i % 5}`, value: JSON.stringify({ i, phase: 'first' }) }))
      const res = await producer.send({ topic, acks: -1, messages: first })
      assert.equal(res.length, 1)
      assert.equal(res[0].topicName, topic)
      assert.equal(res[0].partition, 0)
      assert.equal(res[0].baseOffset, '0')

      const c1 = await startConsumer(kafka, topic, groupId)
      try {
        await c1.until(50)
        // kafkajs commits after each batch; the broker must then report it.
        const admin = kafka.admin()
        await admin.connect()
        try {
          await waitFor(async () => {
            const offsets = await admin.fetchOffsets({ groupId, topics: [topic] })
            return offsets[0].partitions.find(p => p.partition === 0).offset === '50'
          }, 15000, 'the group to commit offset 50')
        } finally {
          await admin.disconnect()
        }
      } finally {
        await c1.stop()
      }
      assert.deepEqual(c1.got.map(m => m.offset), range(0, 50))
      assert.deepEqual(c1.got.map(m => m.value), first.map(m => m.value))
      assert.deepEqual(c1.got.map(m => m.key), first.map(m => m.key))

      const second = range(50, 60).map(i => ({ value: JSON.stringify({ i, phase: 'second' }) }))
      const res2 = await producer.send({ topic, acks: -1, messages: second })
      assert.equal(res2[0].baseOffset, '50')

      const c2 = await startConsumer(kafka, topic, groupId)
      try {
        await c2.until(10)
        await sleep(1000)
      } finally {
        await c2.stop()
      }
      assert.deepEqual(c2.got.map(m => m.offset), range(50, 60), 'the new member did not resume at the committed offset')
      assert.deepEqual(c2.got.map(m => m.value), second.map(m => m.value))
    } finally {
      await producer.disconnect()
    }
  })
})

test('admin: create, list, describe, delete topics', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withPier(async pier => {
    const kafka = client(pier)
    const admin = kafka.admin()
    await admin.connect()
    const topic = unique('kjs-admin')
    try {
      assert.ok(!(await admin.listTopics()).includes(topic))
      const created = await admin.createTopics({
        topics: [{ topic, numPartitions: 4, replicationFactor: 1 }],
        waitForLeaders: true,
        timeout: 10000
      })
      assert.equal(created, true, 'createTopics did not create the topic')
      assert.ok((await admin.listTopics()).includes(topic), 'new topic not listed')

      const md = await admin.fetchTopicMetadata({ topics: [topic] })
      assert.equal(md.topics.length, 1)
      assert.equal(md.topics[0].name, topic)
      assert.deepEqual(md.topics[0].partitions.map(p => p.partitionId).sort(), [0, 1, 2, 3])

      // kafkajs resolves to false when the broker says TOPIC_ALREADY_EXISTS.
      const again = await admin.createTopics({ topics: [{ topic, numPartitions: 4, replicationFactor: 1 }] })
      assert.equal(again, false, 'creating an existing topic succeeded')

      await admin.deleteTopics({ topics: [topic], timeout: 10000 })
      await waitFor(async () => !(await admin.listTopics()).includes(topic), 15000, 'the deleted topic to disappear')
    } finally {
      await admin.disconnect()
    }
  })
})

test('idempotent producer: each record stored exactly once', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withPier(async pier => {
    const kafka = client(pier)
    const topic = unique('kjs-idem')
    const producer = newProducer(kafka, { idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    const values = []
    try {
      for (let batch = 0; batch < 10; batch++) {
        const messages = range(batch * 100, batch * 100 + 100).map(i => ({ value: `idem-${i}` }))
        const res = await producer.send({ topic, acks: -1, messages })
        assert.equal(res[0].baseOffset, String(batch * 100))
        values.push(...messages.map(m => m.value))
      }
    } finally {
      await producer.disconnect()
    }
    const got = await consumeAll(kafka, topic, values.length, 1500)
    assert.equal(got.length, values.length, `stored ${got.length} records for ${values.length} sent`)
    assert.deepEqual(got.map(m => m.value), values)
    assert.deepEqual(got.map(m => m.offset), range(0, values.length))
  })
})

test('gzip compression round-trips', { timeout: TEST_TIMEOUT_MS }, async () => {
  await withPier(async pier => {
    const kafka = client(pier)
    const topic = unique('kjs-gzip')
    const messages = range(0, 200).map(i => ({ key: `key-${i}`, value: JSON.stringify({ i, pad: 'pier '.repeat(40) }) }))
    messages.push({ key: 'big', value: 'x'.repeat(100000) + 'end' })
    const producer = newProducer(kafka)
    await producer.connect()
    try {
      const res = await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages })
      assert.equal(res[0].baseOffset, '0')
    } finally {
      await producer.disconnect()
    }
    const got = await consumeAll(kafka, topic, messages.length, 500)
    assert.equal(got.length, messages.length)
    assert.deepEqual(got.map(m => m.value), messages.map(m => m.value))
    assert.deepEqual(got.map(m => m.key), messages.map(m => m.key))
    assert.deepEqual(got.map(m => m.offset), range(0, messages.length))
  })
})
