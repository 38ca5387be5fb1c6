// Copy-ready client code for one Kafka listener, in every language the
// Connect screen lists: the same settings a real cluster with that
// `security.protocol` needs, so code moves to production unchanged.

import type { ListenerInfo } from '../api/types'

export interface Login {
  mechanism: string // PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
  username: string
  password: string
}

export interface Snippet {
  lang: string
  code: string
}

const CA = 'pier-ca.pem'

/** librdkafka-style properties (confluent-kafka, rdkafka, kcat, Java). */
export function properties(l: ListenerInfo, login: Login): [string, string][] {
  const p: [string, string][] = [['bootstrap.servers', l.address]]
  if (l.protocol !== 'PLAINTEXT') p.push(['security.protocol', l.protocol])
  if (l.sasl) {
    p.push(['sasl.mechanisms', login.mechanism], ['sasl.username', login.username], ['sasl.password', login.password])
  }
  if (l.tls) p.push(['ssl.ca.location', CA])
  return p
}

function javaProps(l: ListenerInfo, login: Login): string[] {
  const lines = [`props.put("bootstrap.servers", "${l.address}");`]
  if (l.protocol !== 'PLAINTEXT') lines.push(`props.put("security.protocol", "${l.protocol}");`)
  if (l.sasl) {
    const module = login.mechanism === 'PLAIN' ? 'org.apache.kafka.common.security.plain.PlainLoginModule' : 'org.apache.kafka.common.security.scram.ScramLoginModule'
    lines.push(
      `props.put("sasl.mechanism", "${login.mechanism}");`,
      `props.put("sasl.jaas.config", "${module} required username=\\"${login.username}\\" password=\\"${login.password}\\";");`,
    )
  }
  if (l.tls) lines.push('props.put("ssl.truststore.type", "PEM");', `props.put("ssl.truststore.location", "${CA}");`)
  return lines
}

function kafkajs(l: ListenerInfo, login: Login): string {
  const opts = [`brokers: ['${l.address}']`]
  if (l.tls) opts.push(`ssl: { ca: [fs.readFileSync('${CA}', 'utf-8')] }`)
  if (l.sasl) opts.push(`sasl: { mechanism: '${login.mechanism.toLowerCase()}', username: '${login.username}', password: '${login.password}' }`)
  return `// npm install kafkajs\nconst fs = require('fs')\nconst { Kafka } = require('kafkajs')\nconst kafka = new Kafka({ ${opts.join(', ')} })\nconst producer = kafka.producer({ idempotent: true })\nawait producer.connect()\nawait producer.send({ topic: 'orders', messages: [{ key: 'k1', value: '{"id": 1}' }] })`
}

function franz(l: ListenerInfo, login: Login): string {
  const opts = [`kgo.SeedBrokers("${l.address}")`]
  if (l.sasl) {
    opts.push(
      login.mechanism === 'PLAIN'
        ? `kgo.SASL(plain.Auth{User: "${login.username}", Pass: "${login.password}"}.AsMechanism())`
        : `kgo.SASL(scram.Auth{User: "${login.username}", Pass: "${login.password}"}.${login.mechanism === 'SCRAM-SHA-256' ? 'AsSha256Mechanism' : 'AsSha512Mechanism'}())`,
    )
  }
  const tls = l.tls ? `pem, _ := os.ReadFile("${CA}")\npool := x509.NewCertPool()\npool.AppendCertsFromPEM(pem)\n` : ''
  if (l.tls) opts.push('kgo.DialTLSConfig(&tls.Config{RootCAs: pool})')
  return `// go get github.com/twmb/franz-go/pkg/kgo\n${tls}cl, _ := kgo.NewClient(${opts.join(', ')})\ndefer cl.Close()\nres := cl.ProduceSync(ctx, &kgo.Record{Topic: "orders", Value: []byte(\`{"id": 1}\`)})\nif err := res.FirstErr(); err != nil { panic(err) }`
}

/** Every language's snippet for `l`. */
export function snippets(l: ListenerInfo, login: Login): Snippet[] {
  const props = properties(l, login)
  const py = props.map(([k, v]) => `"${k}": "${v}"`).join(', ')
  const rust = props.map(([k, v]) => `    .set("${k}", "${v}")`).join('\n')
  const kcat = props
    .filter(([k]) => k !== 'bootstrap.servers')
    .map(([k, v]) => ` -X ${k}=${v}`)
    .join('')
  return [
    {
      lang: 'Python',
      code: `# pip install confluent-kafka\nfrom confluent_kafka import Producer, Consumer\n\nconf = {${py}}\np = Producer({**conf, "enable.idempotence": True})\np.produce("orders", key=b"k1", value=b'{"id": 1}')\np.flush()\n\nc = Consumer({**conf, "group.id": "billing", "auto.offset.reset": "earliest"})\nc.subscribe(["orders"])\nmsg = c.poll(5.0)\nprint(msg.value())`,
    },
    {
      lang: 'Java',
      code: `Properties props = new Properties();\n${javaProps(l, login).join('\n')}\nprops.put("key.serializer", "org.apache.kafka.common.serialization.StringSerializer");\nprops.put("value.serializer", "org.apache.kafka.common.serialization.StringSerializer");\ntry (var producer = new KafkaProducer<String, String>(props)) {\n    producer.send(new ProducerRecord<>("orders", "k1", "{\\"id\\": 1}")).get();\n}`,
    },
    { lang: 'Node', code: kafkajs(l, login) },
    { lang: 'Go', code: franz(l, login) },
    {
      lang: 'Rust',
      code: `// rdkafka = "0.36"\nlet producer: FutureProducer = ClientConfig::new()\n${rust}\n    .create()?;\nproducer.send(FutureRecord::to("orders").key("k1").payload("{\\"id\\": 1}"), Duration::from_secs(5)).await;`,
    },
    { lang: 'kcat', code: `echo '{"id": 1}' | kcat -b ${l.address}${kcat} -P -t orders\nkcat -b ${l.address}${kcat} -C -t orders -e` },
  ]
}
