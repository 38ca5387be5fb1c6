//! RabbitMQ quorum queues: persistent publishes with publisher confirms; a
//! consumer acknowledging with `multiple`.

use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

use anyhow::{Result, bail};

use crate::Opts;
use crate::common::buffered_batch;
use crate::drivers::{BoxFut, Consumer, Producer, consume, e2e, pipelined, sequential};

async fn connect(addr: &str) -> Result<Connection> {
    Ok(Connection::connect(
        &format!("amqp://guest:guest@{addr}/%2f"),
        ConnectionProperties::default(),
    )
    .await?)
}

async fn declare(ch: &Channel, queue: &str) -> Result<()> {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(LongString::from("quorum")),
    );
    ch.queue_declare(
        queue.into(),
        QueueDeclareOptions {
            durable: true,
            ..Default::default()
        },
        args,
    )
    .await?;
    Ok(())
}

pub struct P {
    _conn: Connection,
    ch: Channel,
    queue: String,
}

impl P {
    pub async fn new(addr: &str, queue: &str) -> Result<Self> {
        let conn = connect(addr).await?;
        let ch = conn.create_channel().await?;
        declare(&ch, queue).await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        Ok(P {
            _conn: conn,
            ch,
            queue: queue.into(),
        })
    }
}

impl Producer for P {
    async fn send(&mut self, payload: Vec<u8>) -> Result<BoxFut<()>> {
        let confirm = self
            .ch
            .basic_publish(
                "".into(),
                self.queue.as_str().into(),
                BasicPublishOptions::default(),
                &payload,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await?;
        Ok(Box::pin(async move {
            let c = confirm.await?;
            if !c.is_ack() {
                bail!("rabbitmq: publish nacked");
            }
            Ok(())
        }))
    }
}

pub struct C {
    _conn: Connection,
    ch: Channel,
    consumer: lapin::Consumer,
    last_tag: Option<u64>,
    unacked: usize,
}

const ACK_EVERY: usize = 256;

impl C {
    pub async fn new(addr: &str, queue: &str) -> Result<Self> {
        let conn = connect(addr).await?;
        let ch = conn.create_channel().await?;
        declare(&ch, queue).await?;
        ch.basic_qos(1024, BasicQosOptions::default()).await?;
        let consumer = ch
            .basic_consume(
                queue.into(),
                "c1".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(C {
            _conn: conn,
            ch,
            consumer,
            last_tag: None,
            unacked: 0,
        })
    }
    async fn ack(&mut self) -> Result<()> {
        if let Some(tag) = self.last_tag.take() {
            self.ch
                .basic_ack(tag, BasicAckOptions { multiple: true })
                .await?;
            self.unacked = 0;
        }
        Ok(())
    }
}

impl Consumer for C {
    async fn next_batch(&mut self) -> Result<Vec<Vec<u8>>> {
        // Wait up to a second for the first delivery, then take what is
        // already buffered (up to 256).
        let out = buffered_batch(
            &mut self.consumer,
            "rabbitmq: consumer closed",
            anyhow::Error::from,
            |d| {
                self.last_tag = Some(d.delivery_tag);
                self.unacked += 1;
                d.data
            },
        )
        .await?;
        if self.unacked >= ACK_EVERY {
            self.ack().await?;
        }
        Ok(out)
    }
    async fn finish(&mut self) -> Result<()> {
        self.ack().await
    }
}

pub async fn run(case: &str, o: &Opts) -> Result<()> {
    match case {
        "sequential" => sequential("rabbitmq", &mut P::new(&o.addr, &o.name).await?, o).await,
        "pipelined" => pipelined("rabbitmq", &mut P::new(&o.addr, &o.name).await?, o).await,
        "consume" => consume("rabbitmq", &mut C::new(&o.addr, &o.name).await?, o).await,
        "e2e" => {
            let c = C::new(&o.addr, &o.name).await?;
            e2e("rabbitmq", P::new(&o.addr, &o.name).await?, c, o).await
        }
        _ => bail!("unknown case {case}"),
    }
}
