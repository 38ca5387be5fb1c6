"""Admin API: CreateTopics, Metadata, DeleteTopics, CreatePartitions."""

import pytest

from adapters import CLIENTS, admin, producer, unique, wait_for


@pytest.mark.parametrize("client", CLIENTS)
def test_create_list_delete_topic(pier, client):
    a = admin(client, pier.bootstrap)
    name = unique("admin")
    try:
        assert name not in a.list_topics()
        a.create_topic(name, 4)
        wait_for(lambda: name in a.list_topics(), 15, "the new topic to be listed")
        assert a.partition_count(name) == 4
        assert a.create_existing_topic_fails(name, 4), "creating an existing topic succeeded"
        assert a.partition_count(name) == 4

        # All four partitions take writes.
        p = producer(client, pier.bootstrap)
        try:
            for part in range(4):
                p.send(name, b"to partition %d" % part, partition=part)
            acked = p.flush()
        finally:
            p.close()  # before the delete, so its metadata refresh cannot re-create the topic
        assert sorted((d.partition, d.offset) for d in acked) == [(0, 0), (1, 0), (2, 0), (3, 0)]

        a.delete_topic(name)
        wait_for(lambda: name not in a.list_topics(), 15, "the deleted topic to disappear")
        assert a.partition_count(name) is None
    finally:
        a.close()


@pytest.mark.parametrize("client", CLIENTS)
def test_create_partitions(pier, client):
    a = admin(client, pier.bootstrap)
    name = unique("grow")
    try:
        a.create_topic(name, 2)
        wait_for(lambda: a.partition_count(name) == 2, 15, "the topic with 2 partitions")
        a.create_partitions(name, 5)
        wait_for(lambda: a.partition_count(name) == 5, 15, "the topic to grow to 5 partitions")
    finally:
        a.close()
    p = producer(client, pier.bootstrap)
    try:
        p.send(name, b"new partition", partition=4)
        acked = p.flush()
    finally:
        p.close()
    assert [(d.partition, d.offset) for d in acked] == [(4, 0)]
