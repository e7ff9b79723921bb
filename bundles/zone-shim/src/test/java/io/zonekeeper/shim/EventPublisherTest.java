package io.zonekeeper.shim;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.shim.proto.EventsServiceProto.Envelope;
import io.zonekeeper.shim.proto.EventsServiceProto.ForwardRequest;
import io.zonekeeper.shim.proto.TaskEventsProto;
import io.zonekeeper.shim.ttrpc.TtrpcException;
import io.zonekeeper.shim.ttrpc.TtrpcServer;
import io.zonekeeper.shim.ttrpc.TtrpcService;

/** Events reach an events service over a real Unix socket, in order, as containerd's typeurl names them. */
public class EventPublisherTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void eventsArriveInOrderWithTheirNamespaceTopicAndBareTypeName() throws Exception {
        LinkedBlockingQueue<Envelope> got = new LinkedBlockingQueue<>();
        LinkedBlockingQueue<String> namespaces = new LinkedBlockingQueue<>();
        TtrpcService containerd = new TtrpcService() {
            @Override
            public String name() {
                return "containerd.services.events.ttrpc.v1.Events";
            }

            @Override
            public byte[] call(String method, byte[] payload, Map<String, String> metadata) throws TtrpcException {
                if (!method.equals("Forward")) {
                    throw new TtrpcException(TtrpcException.UNIMPLEMENTED, method);
                }
                try {
                    got.add(ForwardRequest.parseFrom(payload).getEnvelope());
                } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                    throw new TtrpcException(TtrpcException.INVALID_ARGUMENT, e.getMessage());
                }
                namespaces.add(metadata.getOrDefault("containerd-namespace-ttrpc", ""));
                return com.google.protobuf.Empty.getDefaultInstance().toByteArray();
            }
        };
        Path socket = tmp.getRoot().toPath().resolve("containerd.sock.ttrpc");
        try (TtrpcServer server = new TtrpcServer(socket, List.of(containerd));
                EventPublisher events = new EventPublisher()) {
            server.start();
            String address = "unix://" + socket;
            events.publish(address, "k8s.io", "/tasks/create", TaskEventsProto.TaskCreate.newBuilder()
                    .setContainerId("c").setPid(7).build());
            events.publish(address, "k8s.io", "/tasks/start", TaskEventsProto.TaskStart.newBuilder()
                    .setContainerId("c").setPid(7).build());
            events.publish(address, "k8s.io", "/tasks/exit", TaskEventsProto.TaskExit.newBuilder()
                    .setContainerId("c").setId("c").setExitStatus(3).build());
            Envelope a = got.poll(30, TimeUnit.SECONDS);
            Envelope b = got.poll(30, TimeUnit.SECONDS);
            Envelope c = got.poll(30, TimeUnit.SECONDS);
            assertEquals(List.of("/tasks/create", "/tasks/start", "/tasks/exit"), List.of(a.getTopic(), b.getTopic(),
                    c.getTopic()));
            assertEquals("containerd.events.TaskExit", c.getEvent().getTypeUrl());
            assertEquals(3, TaskEventsProto.TaskExit.parseFrom(c.getEvent().getValue()).getExitStatus());
            assertEquals("k8s.io", c.getNamespace());
            assertEquals("k8s.io", namespaces.poll());
            assertTrue(a.getTimestamp().getSeconds() > 0);
        }
    }
}
