//! NATS JetStream: a file-backed stream (one replica); a durable pull consumer
//! with `AckPolicy::All`.

use std::future::IntoFuture;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use async_nats::jetstream::{self, consumer, stream};

use crate::Opts;
use crate::common::buffered_batch;
use crate::drivers::{BoxFut, Consumer, Producer, consume, e2e, pipelined, sequential};

async fn js(addr: &str) -> Result<jetstream::Context> {
    let client = async_nats::connect(addr).await?;
    let mut js = jetstream::new(client);
    js.set_timeout(Duration::from_secs(30));
    Ok(js)
}

async fn ensure_stream(js: &jetstream::Context, name: &str) -> Result<stream::Stream> {
    Ok(js
        .get_or_create_stream(stream::Config {
            name: name.to_string(),
            subjects: vec![name.to_string()],
            storage: stream::StorageType::File,
            num_replicas: 1,
            ..Default::default()
        })
        .await?)
}

pub struct P {
    js: jetstream::Context,
    subject: String,
}

impl P {
    pub async fn new(addr: &str, name: &str) -> Result<Self> {
        let js = js(addr).await?;
        ensure_stream(&js, name).await?;
        Ok(P {
            js,
            subject: name.to_string(),
        })
    }
}

impl Producer for P {
    async fn send(&mut self, payload: Vec<u8>) -> Result<BoxFut<()>> {
        let ack = self
            .js
            .publish(self.subject.clone(), payload.into())
            .await?;
        Ok(Box::pin(async move {
            ack.into_future().await?;
            Ok(())
        }))
    }
}

pub struct C {
    messages: consumer::pull::Stream,
    last: Option<jetstream::Message>,
    unacked: usize,
}

impl C {
    pub async fn new(addr: &str, name: &str, group: &str) -> Result<Self> {
        let js = js(addr).await?;
        let stream = ensure_stream(&js, name).await?;
        let consumer: consumer::PullConsumer = stream
            .get_or_create_consumer(
                group,
                consumer::pull::Config {
                    durable_name: Some(group.to_string()),
                    ack_policy: consumer::AckPolicy::All,
                    max_ack_pending: 100_000,
                    ..Default::default()
                },
            )
            .await?;
        let messages = consumer
            .stream()
            .max_messages_per_batch(512)
            .messages()
            .await?;
        Ok(C {
            messages,
            last: None,
            unacked: 0,
        })
    }
    async fn ack(&mut self) -> Result<()> {
        if let Some(m) = self.last.take() {
            // AckPolicy::All: acknowledging this one acknowledges every
            // earlier message too.
            m.ack().await.map_err(|e| anyhow!("nats ack: {e}"))?;
            self.unacked = 0;
        }
        Ok(())
    }
}

impl Consumer for C {
    async fn next_batch(&mut self) -> Result<Vec<Vec<u8>>> {
        let out = buffered_batch(
            &mut self.messages,
            "nats: message stream ended",
            |e| anyhow!("nats: {e}"),
            |m| {
                let payload = m.payload.to_vec();
                self.last = Some(m);
                self.unacked += 1;
                payload
            },
        )
        .await?;
        if self.unacked >= 256 {
            self.ack().await?;
        }
        Ok(out)
    }
    async fn finish(&mut self) -> Result<()> {
        self.ack().await?;
        Ok(())
    }
}

pub async fn run(case: &str, o: &Opts) -> Result<()> {
    let name = o.name.to_uppercase();
    match case {
        "sequential" => sequential("nats", &mut P::new(&o.addr, &name).await?, o).await,
        "pipelined" => pipelined("nats", &mut P::new(&o.addr, &name).await?, o).await,
        "consume" => consume("nats", &mut C::new(&o.addr, &name, &o.group).await?, o).await,
        "e2e" => {
            let c = C::new(&o.addr, &name, &o.group).await?;
            e2e("nats", P::new(&o.addr, &name).await?, c, o).await
        }
        _ => bail!("unknown case {case}"),
    }
}
