package io.zonekeeper.shim;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.image.ImageStore;
import io.zonekeeper.shim.ttrpc.TtrpcServer;
import io.zonekeeper.spi.HypervisorDriver;
import io.zonekeeper.spi.StateLocation;

/**
 * Serves containerd.task.v2.Task on {@code <state>/run/shim.ttrpc.sock}, the address the shim binary
 * (containerd-shim-zonekeeper-v2) prints at {@code start}. Task records live in {@code <state>/shim/tasks}.
 */
@Component(immediate = true)
public class ShimComponent {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.shim");
    /** The socket, relative to the state directory: a fixed contract with the shim binary. */
    public static final String SOCKET = "run/shim.ttrpc.sock";
    /** Debian's busybox-static, copied into each container's image for the zone's own workload. */
    static final Path BUSYBOX = Path.of("/bin/busybox");

    @Reference
    ZoneManager zones;

    @Reference
    ImageStore images;

    @Reference
    StateLocation state;

    private final List<HypervisorDriver> drivers = new CopyOnWriteArrayList<>();
    private TaskService service;
    private TtrpcServer server;
    private EventPublisher events;
    private ScheduledExecutorService watcher;

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void addDriver(HypervisorDriver d) {
        drivers.add(d);
    }

    void removeDriver(HypervisorDriver d) {
        drivers.remove(d);
    }

    @Activate
    void activate() throws IOException {
        Path shim = state.folder("shim");
        Files.createDirectories(shim);
        events = new EventPublisher();
        service = new TaskService(() -> zones, () -> images, this::hypervisors, BUSYBOX, shim.resolve("tasks"),
                shim.resolve("scratch"), events);
        service.load();
        server = new TtrpcServer(state.folder(SOCKET), List.of(service));
        server.start();
        watcher = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "zonekeeper-shim-watch");
            t.setDaemon(true);
            return t;
        });
        watcher.scheduleWithFixedDelay(service::watch, 2, 2, TimeUnit.SECONDS);
        LOG.log(Level.INFO, "containerd task service on " + server.socket());
    }

    private Set<String> hypervisors() {
        return drivers.stream().map(HypervisorDriver::type).collect(Collectors.toSet());
    }

    @Deactivate
    void deactivate() {
        if (watcher != null) {
            watcher.shutdownNow();
        }
        if (server != null) {
            server.close();
        }
        if (service != null) {
            service.close();
        }
        if (events != null) {
            events.close();
        }
    }
}
