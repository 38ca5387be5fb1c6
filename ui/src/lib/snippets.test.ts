import { describe, expect, it } from 'vitest'

import type { ListenerInfo } from '../api/types'
import { properties, snippets } from './snippets'

const login = { mechanism: 'SCRAM-SHA-512', username: 'alice', password: 'wonderland' }
const listener = (protocol: string, address: string): ListenerInfo => ({
  protocol,
  address,
  sasl: protocol.startsWith('SASL_'),
  tls: protocol.endsWith('SSL'),
})

describe('client settings per listener', () => {
  it('plaintext needs only the bootstrap address', () => {
    expect(properties(listener('PLAINTEXT', '127.0.0.1:9092'), login)).toEqual([['bootstrap.servers', '127.0.0.1:9092']])
  })

  it('SASL_SSL needs the protocol, the login and the CA', () => {
    expect(properties(listener('SASL_SSL', '127.0.0.1:9095'), login)).toEqual([
      ['bootstrap.servers', '127.0.0.1:9095'],
      ['security.protocol', 'SASL_SSL'],
      ['sasl.mechanisms', 'SCRAM-SHA-512'],
      ['sasl.username', 'alice'],
      ['sasl.password', 'wonderland'],
      ['ssl.ca.location', 'pier-ca.pem'],
    ])
  })

  it('every language gets the same listener settings', () => {
    const all = snippets(listener('SASL_SSL', '127.0.0.1:9095'), login)
    expect(all.map((s) => s.lang)).toEqual(['Python', 'Java', 'Node', 'Go', 'Rust', 'kcat'])
    for (const s of all) expect(s.code, s.lang).toContain('127.0.0.1:9095')
    const code = Object.fromEntries(all.map((s) => [s.lang, s.code]))
    expect(code.Java).toContain('ScramLoginModule required username=\\"alice\\"')
    expect(code.Java).toContain('ssl.truststore.type", "PEM"')
    expect(code.Node).toContain("mechanism: 'scram-sha-512'")
    expect(code.Go).toContain('AsSha512Mechanism')
    expect(code.kcat).toContain('-X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-512')
    const plain = snippets(listener('SASL_PLAINTEXT', '127.0.0.1:9093'), { ...login, mechanism: 'PLAIN' })
    expect(plain.find((s) => s.lang === 'Java')?.code).toContain('PlainLoginModule')
    expect(plain.find((s) => s.lang === 'Node')?.code).not.toContain('ssl:')
  })
})
