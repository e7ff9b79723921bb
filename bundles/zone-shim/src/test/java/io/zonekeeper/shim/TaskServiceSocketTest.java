package io.zonekeeper.shim;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertThrows;
import static org.junit.Assert.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.image.ImageStore;
import io.zonekeeper.shim.proto.MountProto.Mount;
import io.zonekeeper.shim.proto.ShimProto;
import io.zonekeeper.shim.ttrpc.TtrpcClient;
import io.zonekeeper.shim.ttrpc.TtrpcException;
import io.zonekeeper.shim.ttrpc.TtrpcServer;

/**
 * The task service over a real Unix socket, with a ttrpc client written here. Bad input must be refused before
 * any zone or image is touched: the zone manager and image store given to the service fail the test if they are
 * ever asked for.
 */
public class TaskServiceSocketTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();
    private TtrpcServer server;
    private TaskService service;
    private EventPublisher events;
    private TtrpcClient client;
    private Path state;

    private static <T> Supplier<T> untouched(String what) {
        return () -> {
            throw new AssertionError(what + " was reached; bad input must be refused before");
        };
    }

    @Before
    public void start() throws Exception {
        state = tmp.newFolder("state").toPath();
        events = new EventPublisher();
        Supplier<ZoneManager> zones = untouched("the zone manager");
        Supplier<ImageStore> images = untouched("the image store");
        service = new TaskService(zones, images, () -> Set.of("kvm"), Path.of("/bin/busybox"),
                state.resolve("shim/tasks"), state.resolve("shim/scratch"), events);
        server = new TtrpcServer(state.resolve(ShimComponent.SOCKET), java.util.List.of(service));
        server.start();
        client = TtrpcClient.connect(state.resolve(ShimComponent.SOCKET));
    }

    @After
    public void stop() throws Exception {
        client.close();
        server.close();
        service.close();
        events.close();
    }

    private TtrpcException refused(String method, com.google.protobuf.Message request) {
        return assertThrows(TtrpcException.class, () -> client.call(TaskService.NAME, method, request.toByteArray(),
                Map.of(TaskService.NAMESPACE_METADATA, "default"), Duration.ofSeconds(10)));
    }

    private Path bundle(String config) throws Exception {
        Path b = tmp.newFolder().toPath();
        Files.createDirectories(b.resolve("rootfs"));
        if (config != null) {
            Files.writeString(b.resolve("config.json"), config);
        }
        return b;
    }

    @Test
    public void aBundleWithoutConfigJsonIsRefusedByName() throws Exception {
        Path b = bundle(null);
        TtrpcException e = refused("Create", ShimProto.CreateTaskRequest.newBuilder().setId("c1")
                .setBundle(b.toString()).build());
        assertEquals(TtrpcException.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage(), e.getMessage().contains("has no config.json"));
    }

    @Test
    public void aHypervisorThatIsNotThereIsRefusedByName() throws Exception {
        Path b = bundle("{\"process\":{\"args\":[\"true\"]},\"annotations\":{\"io.zonekeeper.hypervisor\":\"hyperv\"}}");
        TtrpcException e = refused("Create", ShimProto.CreateTaskRequest.newBuilder().setId("c2")
                .setBundle(b.toString()).build());
        assertEquals(TtrpcException.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage(), e.getMessage().contains("hypervisor 'hyperv'")
                && e.getMessage().contains("drivers bound: kvm"));
    }

    @Test
    public void aRootfsMountTypeThatCannotBeServedIsRefusedByName() throws Exception {
        Path b = bundle("{\"process\":{\"args\":[\"true\"]}}");
        TtrpcException e = refused("Create", ShimProto.CreateTaskRequest.newBuilder().setId("c3")
                .setBundle(b.toString()).addRootfs(Mount.newBuilder().setType("ext4").setSource("/dev/mapper/x"))
                .build());
        assertEquals(TtrpcException.INVALID_ARGUMENT, e.code());
        assertTrue(e.getMessage(), e.getMessage().contains("rootfs mount type 'ext4'"));
        assertEquals(0, service.taskNames().size());
        assertTrue(!Files.exists(state.resolve("shim/tasks")) || Files.list(state.resolve("shim/tasks")).count() == 0);
    }

    @Test
    public void methodsNotServedAnswerUnimplemented() {
        TtrpcException e = refused("Pause", ShimProto.PauseRequest.newBuilder().setId("c").build());
        assertEquals(TtrpcException.UNIMPLEMENTED, e.code());
        assertTrue(e.getMessage(), e.getMessage().contains("containerd.task.v2.Task/Pause"));
        assertEquals(TtrpcException.UNIMPLEMENTED, refused("Checkpoint", ShimProto.CheckpointTaskRequest
                .getDefaultInstance()).code());
    }

    @Test
    public void anUnknownTaskIsNotFoundAndConnectNamesTheAppliance() throws Exception {
        TtrpcException e = refused("State", ShimProto.StateRequest.newBuilder().setId("nope").build());
        assertEquals(TtrpcException.NOT_FOUND, e.code());
        assertTrue(e.getMessage(), e.getMessage().contains("no task nope in namespace default"));
        ShimProto.ConnectResponse c = ShimProto.ConnectResponse.parseFrom(client.call(TaskService.NAME, "Connect",
                ShimProto.ConnectRequest.newBuilder().setId("nope").build().toByteArray(), Map.of(),
                Duration.ofSeconds(5)));
        assertEquals(ProcessHandle.current().pid(), c.getShimPid());
        // Shutdown ends nothing: the socket still answers
        client.call(TaskService.NAME, "Shutdown", ShimProto.ShutdownRequest.newBuilder().setId("nope").build()
                .toByteArray(), Map.of(), Duration.ofSeconds(5));
        assertEquals(TtrpcException.NOT_FOUND, refused("Wait", ShimProto.WaitRequest.newBuilder().setId("nope")
                .build()).code());
    }

    @Test
    public void aRecordOfAStoppedTaskIsTakenUpByTheNextService() throws Exception {
        TaskRecord rec = new TaskRecord("default", "old", "ctr-old-12345678", "/b", "sha256:" + "0".repeat(64), "",
                "", "", false, "", TaskRecord.STOPPED, 42, 3, java.time.Instant.parse("2026-12-02T10:00:00Z"));
        rec.save(state.resolve("shim/tasks"));
        service.load();
        ShimProto.StateResponse s = ShimProto.StateResponse.parseFrom(client.call(TaskService.NAME, "State",
                ShimProto.StateRequest.newBuilder().setId("old").build().toByteArray(),
                Map.of(TaskService.NAMESPACE_METADATA, "default"), Duration.ofSeconds(5)));
        assertEquals(io.zonekeeper.shim.proto.TaskTypesProto.Status.STOPPED, s.getStatus());
        assertEquals(3, s.getExitStatus());
        assertEquals(42, s.getPid());
        ShimProto.WaitResponse w = ShimProto.WaitResponse.parseFrom(client.call(TaskService.NAME, "Wait",
                ShimProto.WaitRequest.newBuilder().setId("old").build().toByteArray(),
                Map.of(TaskService.NAMESPACE_METADATA, "default"), Duration.ofSeconds(5)));
        assertEquals(3, w.getExitStatus());
        assertEquals(java.time.Instant.parse("2026-12-02T10:00:00Z").getEpochSecond(), w.getExitedAt().getSeconds());
    }
}
