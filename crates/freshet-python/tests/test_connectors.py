"""The connectors' sources from Python, against real services: a Kafka cluster (librdkafka's
mock cluster, in a process of its own), Redis and Mosquitto on their standard loopback ports.
A test that cannot reach its service fails."""

import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

import freshet

REPO = Path(__file__).resolve().parents[3]


def mock_cluster_binary() -> Path:
    """The Kafka mock-cluster example (`cargo build -p freshet-connectors --examples` builds it;
    `cargo test --workspace` too)."""
    named = os.environ.get("FRESHET_KAFKA_MOCK_CLUSTER")
    path = Path(named) if named else REPO / "target" / "debug" / "examples" / "kafka_mock_cluster"
    assert path.exists(), (
        f"{path} is missing: build it with `cargo build -p freshet-connectors --example "
        "kafka_mock_cluster`, or name it in FRESHET_KAFKA_MOCK_CLUSTER"
    )
    return path


def summed(collected):
    """The counts of every batch of ``(value, count)`` records, added up per value."""
    totals = {}
    for _, batch in collected.batches():
        for v, n in batch:
            totals[v] = totals.get(v, 0) + n
    return totals


def await_records(ssc, collected, n, timeout=60):
    """The records the running ``ssc`` collected, sorted, once there are ``n`` (or the
    timeout has passed)."""
    deadline = time.monotonic() + timeout
    got = []
    while time.monotonic() < deadline:
        got = sorted(r for _, batch in collected.batches() for r in batch)
        if len(got) >= n:
            break
        ssc.await_termination(0.1)
    return got


@pytest.fixture
def kafka():
    """Bootstrap servers of a mock cluster holding the topic `words` (3 partitions)."""
    proc = subprocess.Popen(
        [str(mock_cluster_binary()), "--topic", "words:3"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().strip()
    assert line.startswith("bootstrap.servers="), line
    yield line.split("=", 1)[1]
    proc.stdin.close()
    proc.wait(timeout=30)


def test_kafka_direct_stream_word_count(kafka, workers):
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": kafka})
    lines = [f"w{i % 7} w{i % 3}" for i in range(500)]
    for i, line in enumerate(lines):
        producer.produce("words", key=str(i).encode(), value=line.encode())
    assert producer.flush(30) == 0

    ssc = freshet.StreamingContext(0.2, workers=workers)
    records = ssc.kafka_direct_stream(kafka, ["words"], max_records_per_partition_per_batch=100)
    counts = records.flat_map(lambda kv: kv[1].split()).map(lambda w: (w, 1)).reduce_by_key(
        lambda a, b: a + b
    )
    totals = {}

    def add(_t, batch):
        for word, n in batch:
            totals[word] = totals.get(word, 0) + n

    counts.foreach_batch(add)
    keys = records.map(lambda kv: int(kv[0])).collect_batches()
    ssc.run_available_now()

    expected = {}
    for line in lines:
        for w in line.split():
            expected[w] = expected.get(w, 0) + 1
    assert totals == expected
    assert sorted(k for _, batch in keys.batches() for k in batch) == list(range(500))
    # At most 100 records per partition per batch: the 500 records took several batches.
    assert sum(1 for _, batch in keys.batches() if batch) >= 2


def test_redis_stream(workers):
    key = f"freshet-python-test-{uuid.uuid4().hex}"
    try:
        for i in range(50):
            subprocess.run(
                ["redis-cli", "-h", "127.0.0.1", "XADD", key, "*", "v", f"item-{i % 5}"],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        ssc = freshet.StreamingContext(0.2, workers=workers)
        counts = ssc.redis_stream("redis://127.0.0.1:6379", key, "v").count_by_value()
        collected = counts.collect_batches()
        ssc.run_available_now()
        totals = summed(collected)
        assert totals == {f"item-{i}": 10 for i in range(5)}
    finally:
        subprocess.run(["redis-cli", "-h", "127.0.0.1", "DEL", key], stdout=subprocess.DEVNULL)


def test_mqtt_stream():
    topic = f"freshet/python/{uuid.uuid4().hex}"
    ssc = freshet.StreamingContext(0.1)
    messages = ssc.mqtt_stream("127.0.0.1:1883", f"freshet-py-{uuid.uuid4().hex[:8]}", [topic])
    collected = messages.map(str.upper).collect_batches()
    ssc.start()
    try:
        for i in range(20):
            subprocess.run(
                ["mosquitto_pub", "-h", "127.0.0.1", "-q", "1", "-t", topic, "-m", f"m{i}"],
                check=True,
            )
        assert await_records(ssc, collected, 20) == sorted(f"M{i}" for i in range(20))
    finally:
        ssc.stop()


def test_nats_jetstream_stream(workers):
    import asyncio

    import nats

    stream = f"FRESHET_PY_{uuid.uuid4().hex[:10].upper()}"
    subject = f"freshet.py.{stream.lower()}"

    async def publish():
        nc = await nats.connect("nats://127.0.0.1:4222")
        js = nc.jetstream()
        await js.add_stream(name=stream, subjects=[subject])
        for i in range(30):
            await js.publish(subject, f"n{i % 3}".encode())
        await nc.drain()

    async def delete():
        nc = await nats.connect("nats://127.0.0.1:4222")
        await nc.jetstream().delete_stream(stream)
        await nc.drain()

    asyncio.run(publish())
    try:
        ssc = freshet.StreamingContext(0.2, workers=workers)
        counts = ssc.nats_jetstream_stream(
            "nats://127.0.0.1:4222", stream, max_messages_per_batch=10
        ).count_by_value()
        collected = counts.collect_batches()
        ssc.run_available_now()
        totals = summed(collected)
        assert totals == {"n0": 10, "n1": 10, "n2": 10}
    finally:
        asyncio.run(delete())


def test_rabbitmq_stream():
    import pika

    queue = f"freshet-py-{uuid.uuid4().hex}"
    connection = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", 5672))
    channel = connection.channel()
    channel.queue_declare(queue=queue, durable=True)
    try:
        for i in range(25):
            channel.basic_publish(exchange="", routing_key=queue, body=f"r{i}".encode())
        ssc = freshet.StreamingContext(0.1)
        collected = ssc.rabbitmq_stream("amqp://guest:guest@127.0.0.1:5672/%2f", queue).collect_batches()
        ssc.start()
        try:
            assert await_records(ssc, collected, 25) == sorted(f"r{i}" for i in range(25))
        finally:
            ssc.stop()
    finally:
        channel.queue_delete(queue=queue)
        connection.close()
