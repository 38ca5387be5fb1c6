// KIP-848 with the Java client (kafka-clients 4.4, group.protocol=consumer),
// run as a single-file program: java -cp 'tests/reference/.jars/*' Kip848.java BOOTSTRAP TOPIC GROUP
// Creates TOPIC (3 partitions), starts two consumers in GROUP, waits until
// both own partitions, produces 300 records, lets both consume, closes the
// first, produces 150 more for the second, then prints one JSON line with
// what each member owned and received. The Python test judges it.

import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.*;

public class Kip848 {
    static final class Member implements Runnable {
        final KafkaConsumer<String, String> consumer;
        final Set<String> received = ConcurrentHashMap.newKeySet();
        final Set<Integer> owned = ConcurrentHashMap.newKeySet();
        final Set<Integer> everOwnedAfterStart = ConcurrentHashMap.newKeySet();
        final AtomicBoolean stop = new AtomicBoolean();
        volatile Throwable error;

        Member(String bootstrap, String topic, String group, String name) {
            Properties p = new Properties();
            p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
            p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
            p.put(ConsumerConfig.CLIENT_ID_CONFIG, name);
            p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
            p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            consumer = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer());
            consumer.subscribe(List.of(topic));
        }

        public void run() {
            try {
                while (!stop.get()) {
                    ConsumerRecords<String, String> records = consumer.poll(Duration.ofMillis(200));
                    Set<Integer> now = new HashSet<>();
                    for (TopicPartition tp : consumer.assignment()) now.add(tp.partition());
                    owned.retainAll(now);
                    owned.addAll(now);
                    for (ConsumerRecord<String, String> r : records) received.add(r.value());
                    if (!records.isEmpty()) consumer.commitSync();
                }
            } catch (Throwable t) {
                error = t;
            } finally {
                consumer.close();
            }
        }
    }

    static void produce(String bootstrap, String topic, int from, int to) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (KafkaProducer<String, String> producer =
                new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            for (int i = from; i < to; i++) {
                producer.send(new ProducerRecord<>(topic, i % 3, "k" + i, "id-" + i)).get();
            }
        }
    }

    static void waitFor(String what, java.util.function.BooleanSupplier ok) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!ok.getAsBoolean()) {
            if (System.nanoTime() > deadline) throw new IllegalStateException("timed out: " + what);
            Thread.sleep(100);
        }
    }

    static String json(Collection<?> items) {
        StringBuilder b = new StringBuilder("[");
        for (Object o : items) {
            if (b.length() > 1) b.append(',');
            b.append(o instanceof String ? "\"" + o + "\"" : o.toString());
        }
        return b.append(']').toString();
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1], group = args[2];
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1))).all().get();
        }
        Member a = new Member(bootstrap, topic, group, "java-a");
        Member b = new Member(bootstrap, topic, group, "java-b");
        Thread ta = new Thread(a), tb = new Thread(b);
        ta.start();
        tb.start();
        waitFor("both members own partitions", () -> !a.owned.isEmpty() && !b.owned.isEmpty()
                && a.owned.size() + b.owned.size() == 3);
        List<Integer> ownedA = new ArrayList<>(new TreeSet<>(a.owned));
        List<Integer> ownedB = new ArrayList<>(new TreeSet<>(b.owned));
        produce(bootstrap, topic, 0, 300);
        waitFor("300 received", () -> a.received.size() + b.received.size() >= 300);
        Set<String> firstA = new TreeSet<>(a.received), firstB = new TreeSet<>(b.received);
        a.stop.set(true);
        ta.join();
        waitFor("b owns every partition", () -> b.owned.size() == 3);
        produce(bootstrap, topic, 300, 450);
        waitFor("b receives the next 150", () -> b.received.size() >= firstB.size() + 150);
        b.stop.set(true);
        tb.join();
        Set<String> laterB = new TreeSet<>(b.received);
        laterB.removeAll(firstB);
        if (a.error != null) throw new RuntimeException(a.error);
        if (b.error != null) throw new RuntimeException(b.error);
        System.out.println("{\"owned_a\":" + json(ownedA) + ",\"owned_b\":" + json(ownedB)
                + ",\"first_a\":" + json(firstA) + ",\"first_b\":" + json(firstB)
                + ",\"later_b\":" + json(laterB) + "}");
    }
}
