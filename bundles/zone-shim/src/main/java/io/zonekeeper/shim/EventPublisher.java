package io.zonekeeper.shim;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;

import com.google.protobuf.Any;
import com.google.protobuf.Message;
import com.google.protobuf.Timestamp;

import io.zonekeeper.shim.proto.EventsServiceProto.Envelope;
import io.zonekeeper.shim.proto.EventsServiceProto.ForwardRequest;
import io.zonekeeper.shim.ttrpc.TtrpcClient;
import io.zonekeeper.shim.ttrpc.TtrpcException;

/**
 * Publishes task events to containerd (Events.Forward on its ttrpc address), one thread, in the order they were
 * queued: containerd relies on TaskCreate before TaskStart before TaskExit. The Any's type URL is the bare message
 * name, as containerd's typeurl writes it ({@code containerd.events.TaskExit}). An event that cannot be delivered
 * is tried again on a fresh connection a few times, then logged and dropped (containerd also learns an exit from
 * Wait).
 */
final class EventPublisher implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.shim");
    private static final String SERVICE = "containerd.services.events.ttrpc.v1.Events";
    private static final int TRIES = 5;
    private static final int MAX_QUEUED = 10000;

    private record Pending(Path address, String namespace, String topic, Message event, Instant at) {
    }

    private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>(MAX_QUEUED);
    private final Thread thread;
    private volatile boolean closed;
    private TtrpcClient client;
    private Path connectedTo;

    EventPublisher() {
        thread = new Thread(this::run, "zonekeeper-shim-events");
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Queues an event for containerd at {@code address} (its ttrpc socket; {@code unix://} is accepted); nothing
     * is published without one.
     */
    void publish(String address, String namespace, String topic, Message event) {
        if (address == null || address.isBlank()) {
            return;
        }
        String path = address.startsWith("unix://") ? address.substring("unix://".length()) : address;
        if (!queue.offer(new Pending(Path.of(path), namespace, topic, event, Instant.now()))) {
            LOG.log(Level.WARNING, "event queue full; dropped " + topic + " for containerd");
        }
    }

    private void run() {
        while (!closed) {
            Pending p;
            try {
                p = queue.take();
            } catch (InterruptedException e) {
                return;
            }
            deliver(p);
        }
    }

    private void deliver(Pending p) {
        Envelope envelope = Envelope.newBuilder()
                .setTimestamp(Timestamp.newBuilder().setSeconds(p.at().getEpochSecond()).setNanos(p.at().getNano()))
                .setNamespace(p.namespace()).setTopic(p.topic())
                .setEvent(Any.newBuilder().setTypeUrl(p.event().getDescriptorForType().getFullName())
                        .setValue(p.event().toByteString()))
                .build();
        byte[] payload = ForwardRequest.newBuilder().setEnvelope(envelope).build().toByteArray();
        for (int attempt = 1; attempt <= TRIES && !closed; attempt++) {
            try {
                if (client == null || !client.isOpen() || !p.address().equals(connectedTo)) {
                    closeClient();
                    client = TtrpcClient.connect(p.address());
                    connectedTo = p.address();
                }
                client.call(SERVICE, "Forward", payload, Map.of("containerd-namespace-ttrpc", p.namespace()),
                        Duration.ofSeconds(10));
                return;
            } catch (IOException e) {
                closeClient();
                LOG.log(Level.DEBUG, "publishing " + p.topic() + " to " + p.address() + " failed (try " + attempt
                        + "): " + e.getMessage());
                sleep(200L * attempt);
            } catch (TtrpcException e) {
                LOG.log(Level.WARNING, "containerd refused event " + p.topic() + ": " + e.getMessage());
                return;
            }
        }
        LOG.log(Level.WARNING, "could not publish " + p.topic() + " to containerd at " + p.address());
    }

    private void closeClient() {
        if (client != null) {
            try {
                client.close();
            } catch (IOException ignored) {
                // reconnecting either way
            }
            client = null;
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        closed = true;
        thread.interrupt();
        closeClient();
    }
}
