"""A small billing consumer for the lab test, in two versions:

  billing_app.py auto-commit   polls 50 invoices, the position committed in
                               the background (enable.auto.commit, every
                               millisecond here) while it works through
                               them: a crash skips the rest of the batch;
  billing_app.py after         commits after it has processed a batch.

"Processing" an invoice is writing its id to the processed topic (the lab
reads that topic to see what the app did). Connection details come from
the environment the lab sets: PIER_BOOTSTRAP, PIER_GROUP, PIER_TOPIC,
PIER_PROCESSED_TOPIC, PIER_CLIENT_ID."""

import os
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition

mode = sys.argv[1]
env = os.environ
auto = mode == "auto-commit"
consumer = Consumer({
    "bootstrap.servers": env["PIER_BOOTSTRAP"],
    "group.id": env["PIER_GROUP"],
    "client.id": env["PIER_CLIENT_ID"],
    "enable.auto.commit": auto,
    "auto.commit.interval.ms": 1,
    "auto.offset.reset": "earliest",
})
consumer.assign([TopicPartition(env["PIER_TOPIC"], 0)])
producer = Producer({"bootstrap.servers": env["PIER_BOOTSTRAP"], "acks": "all", "linger.ms": 0})
print(f"billing app ({mode}) started", flush=True)
while True:
    batch = consumer.consume(num_messages=50, timeout=0.2)
    for message in batch:
        if message.error():
            continue
        time.sleep(0.004)  # the work an invoice takes
        producer.produce(env["PIER_PROCESSED_TOPIC"], message.value())
        producer.flush(10)
    if batch and not auto:
        consumer.commit(asynchronous=False)
