package io.zonekeeper.shim;

import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.google.protobuf.Empty;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Timestamp;

import io.zonekeeper.agent.AgentException;
import io.zonekeeper.agent.AgentLinks;
import io.zonekeeper.agent.ExecRequest;
import io.zonekeeper.agent.ExecSession;
import io.zonekeeper.api.WorkloadSpec;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneState;
import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.image.ImageException;
import io.zonekeeper.api.image.ImageInfo;
import io.zonekeeper.api.image.ImageStore;
import io.zonekeeper.api.metrics.ZoneMetric;
import io.zonekeeper.api.metrics.ZoneMetricsSource;
import io.zonekeeper.guest.AgentEndpoint;
import io.zonekeeper.shim.proto.ShimProto.CloseIORequest;
import io.zonekeeper.shim.proto.ShimProto.ConnectRequest;
import io.zonekeeper.shim.proto.ShimProto.ConnectResponse;
import io.zonekeeper.shim.proto.ShimProto.CreateTaskRequest;
import io.zonekeeper.shim.proto.ShimProto.CreateTaskResponse;
import io.zonekeeper.shim.proto.ShimProto.DeleteRequest;
import io.zonekeeper.shim.proto.ShimProto.DeleteResponse;
import io.zonekeeper.shim.proto.ShimProto.ExecProcessRequest;
import io.zonekeeper.shim.proto.ShimProto.KillRequest;
import io.zonekeeper.shim.proto.ShimProto.PidsRequest;
import io.zonekeeper.shim.proto.ShimProto.PidsResponse;
import io.zonekeeper.shim.proto.ShimProto.ResizePtyRequest;
import io.zonekeeper.shim.proto.ShimProto.ShutdownRequest;
import io.zonekeeper.shim.proto.ShimProto.StartRequest;
import io.zonekeeper.shim.proto.ShimProto.StartResponse;
import io.zonekeeper.shim.proto.ShimProto.StateRequest;
import io.zonekeeper.shim.proto.ShimProto.StatsRequest;
import io.zonekeeper.shim.proto.ShimProto.StatsResponse;
import io.zonekeeper.shim.proto.CgroupV2Proto;
import io.zonekeeper.shim.proto.ShimProto.StateResponse;
import io.zonekeeper.shim.proto.ShimProto.WaitRequest;
import io.zonekeeper.shim.proto.ShimProto.WaitResponse;
import io.zonekeeper.shim.proto.TaskEventsProto;
import io.zonekeeper.shim.proto.TaskTypesProto;
import io.zonekeeper.shim.ttrpc.TtrpcException;
import io.zonekeeper.shim.ttrpc.TtrpcService;
import jakarta.json.Json;
import jakarta.json.JsonException;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;

/**
 * containerd.task.v2.Task: each container is an image zone of its own (its rootfs imported by {@link BundleImage}),
 * created and booted at Create; its process runs at Start as an agent exec whose streams are containerd's FIFOs;
 * Exec adds more such processes. Zones are labelled {@value #NAMESPACE_LABEL} and {@value #ID_LABEL}, and every task
 * is kept in a {@link TaskRecord} so that a restarted appliance still answers for it. Methods not listed in
 * {@link #call} answer UNIMPLEMENTED.
 */
public final class TaskService implements TtrpcService {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.shim");
    public static final String NAME = "containerd.task.v2.Task";
    public static final String NAMESPACE_LABEL = "io.containerd.namespace";
    public static final String ID_LABEL = "io.containerd.id";
    /** The ttrpc metadata key that carries containerd's namespace. */
    static final String NAMESPACE_METADATA = "containerd-namespace-ttrpc";
    /** What the shim binary's start writes into the bundle (contract with containerd-shim-zonekeeper-v2). */
    static final String SHIM_FILE = "zonekeeper-shim.json";
    private static final long MAX_SHIM_FILE = 64 * 1024;
    static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,75}");
    private static final Pattern WORKLOAD_EXIT = Pattern.compile("workload exited (\\d{1,3})\\b");
    // A zone under TCG on a busy 2-core host can take a minute and more to boot its agent; a container's start
    // waits for it rather than failing a run that would have worked.
    private static final Duration AGENT_GREET = Duration.ofSeconds(180);
    private static final Duration EXEC_START = Duration.ofSeconds(120);
    private static final Duration STOP_GRACE = Duration.ofSeconds(10);
    private static final int SIGKILL = 9;

    private final Supplier<ZoneManager> zones;
    private final Supplier<ImageStore> images;
    private final Supplier<Set<String>> hypervisors;
    private final Supplier<List<ZoneMetricsSource>> metrics;
    private final BundleImage bundleImage;
    private final Path records;
    private final EventPublisher events;
    private final AgentLinks links = new AgentLinks(AGENT_GREET);
    private final Map<String, ContainerTask> tasks = new ConcurrentHashMap<>();
    private volatile boolean closing;

    /** One process of a task: the container's own (exec id "") or an exec. */
    static final class Proc {
        final String execId;
        final ProcessSpec spec;
        final String stdin;
        final String stdout;
        final String stderr;
        final boolean terminal;
        volatile ExecSession session;
        volatile int pid;
        final CompletableFuture<Integer> exit = new CompletableFuture<>();
        volatile Instant exitedAt;

        Proc(String execId, ProcessSpec spec, String stdin, String stdout, String stderr, boolean terminal) {
            this.execId = execId;
            this.spec = spec;
            this.stdin = stdin;
            this.stdout = stdout;
            this.stderr = stderr;
            this.terminal = terminal;
        }
    }

    static final class ContainerTask {
        volatile TaskRecord record;
        final Proc main;
        final Map<String, Proc> execs = new ConcurrentHashMap<>();

        ContainerTask(TaskRecord record, Proc main) {
            this.record = record;
            this.main = main;
        }
    }

    /**
     * @param records the folder of task records ({@code <state>/shim/tasks})
     */
    public TaskService(Supplier<ZoneManager> zones, Supplier<ImageStore> images, Supplier<Set<String>> hypervisors,
            Supplier<List<ZoneMetricsSource>> metrics, Path busybox, Path records, Path scratch,
            EventPublisher events) {
        this.zones = zones;
        this.metrics = metrics;
        this.images = images;
        this.hypervisors = hypervisors;
        this.bundleImage = new BundleImage(images, busybox, scratch);
        this.records = records;
        this.events = events;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public byte[] call(String method, byte[] payload, Map<String, String> metadata) throws TtrpcException {
        String ns = metadata.getOrDefault(NAMESPACE_METADATA, "default");
        try {
            Message answer = switch (method) {
                case "Create" -> create(CreateTaskRequest.parseFrom(payload), ns);
                case "Start" -> start(StartRequest.parseFrom(payload), ns);
                case "State" -> state(StateRequest.parseFrom(payload), ns);
                case "Wait" -> waitFor(WaitRequest.parseFrom(payload), ns);
                case "Kill" -> kill(KillRequest.parseFrom(payload), ns);
                case "Delete" -> delete(DeleteRequest.parseFrom(payload), ns);
                case "Pids" -> pids(PidsRequest.parseFrom(payload), ns);
                case "Connect" -> connect(ConnectRequest.parseFrom(payload), ns);
                case "Shutdown" -> shutdown(ShutdownRequest.parseFrom(payload));
                case "Exec" -> exec(ExecProcessRequest.parseFrom(payload), ns);
                case "ResizePty" -> resize(ResizePtyRequest.parseFrom(payload), ns);
                case "CloseIO" -> closeIo(CloseIORequest.parseFrom(payload), ns);
                case "Stats" -> stats(StatsRequest.parseFrom(payload), ns);
                default -> throw new ShimException(ShimException.UNIMPLEMENTED, "zonekeeper does not implement "
                        + NAME + "/" + method);
            };
            return answer.toByteArray();
        } catch (InvalidProtocolBufferException e) {
            throw new TtrpcException(TtrpcException.INVALID_ARGUMENT, "the " + method + " request does not parse: "
                    + e.getMessage());
        } catch (ShimException e) {
            throw new TtrpcException(e.code(), e.getMessage(), e);
        }
    }

    // --- Create

    private Message create(CreateTaskRequest r, String metadataNs) throws ShimException {
        if (!ID.matcher(r.getId()).matches()) {
            throw new ShimException(ShimException.INVALID, "container id '" + r.getId() + "' is not an id (letters, "
                    + "digits and . _ -, at most 76)");
        }
        if (!r.getCheckpoint().isEmpty()) {
            throw new ShimException(ShimException.UNIMPLEMENTED, "zonekeeper does not restore checkpoints");
        }
        Path bundle = Path.of(r.getBundle());
        if (!bundle.isAbsolute() || !Files.isDirectory(bundle)) {
            throw new ShimException(ShimException.INVALID, "bundle '" + r.getBundle() + "' is not a folder");
        }
        JsonObject shimFile = readShimFile(bundle);
        String ns = shimFile != null && !shimFile.getString("namespace", "").isEmpty()
                ? shimFile.getString("namespace") : metadataNs;
        String eventsAddress = shimFile == null ? "" : shimFile.getString("ttrpcAddress", "");
        if (tasks.containsKey(key(ns, r.getId()))) {
            throw new ShimException(ShimException.EXISTS, "task " + r.getId() + " exists in namespace " + ns);
        }
        ContainerConfig config = ContainerConfig.read(bundle);
        if (config.hypervisor() != null && !hypervisors.get().contains(config.hypervisor())) {
            throw new ShimException(ShimException.INVALID, "the container asks for hypervisor '" + config.hypervisor()
                    + "' (annotation " + ContainerConfig.HYPERVISOR_ANNOTATION + "), which is not there; drivers "
                    + "bound: " + String.join(", ", hypervisors.get().stream().sorted().toList()));
        }
        BundleImage.checkMounts(r.getRootfsList(), bundle);
        ZoneManager zm = zones.get();
        String zone = zoneName(ns, r.getId());
        if (zm.get(zone).isPresent()) {
            throw new ShimException(ShimException.EXISTS, "zone " + zone + " exists already (task " + r.getId()
                    + " in namespace " + ns + " from an earlier run?); zone:destroy it first");
        }
        ImageInfo image = bundleImage.importRoot(bundle, r.getRootfsList(), "containerd/" + ns + "/" + r.getId());
        ZoneSpec.Builder spec = ZoneSpec.builder(zone).vcpus(config.vcpus()).memoryMiB(config.memoryMiB())
                .label(NAMESPACE_LABEL, ns).label(ID_LABEL, r.getId()).image(image.id())
                .workload(new WorkloadSpec(BundleImage.HOLD_COMMAND, List.of(), "/", ""));
        if (config.hypervisor() != null) {
            spec.hypervisor(config.hypervisor());
        }
        TaskRecord record = new TaskRecord(ns, r.getId(), zone, bundle.toString(), image.id(), r.getStdin(),
                r.getStdout(), r.getStderr(), r.getTerminal() || config.process().terminal(), eventsAddress,
                TaskRecord.CREATED, 0, 0, null);
        ZoneInfo info;
        try {
            zm.create(spec.build());
            record.save(records);
            info = zm.start(zone);
        } catch (ZoneException | IOException e) {
            undoCreate(zone, image, record);
            throw new ShimException(ShimException.INVALID, "cannot make zone " + zone + " for container "
                    + r.getId() + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            undoCreate(zone, image, record);
            throw e;
        }
        int pid = hostPid(info);
        record = record.with(TaskRecord.CREATED, pid, 0, null);
        saveQuietly(record);
        Proc main = new Proc("", config.process(), r.getStdin(), r.getStdout(), r.getStderr(), record.terminal());
        tasks.put(key(ns, r.getId()), new ContainerTask(record, main));
        events.publish(eventsAddress, ns, "/tasks/create", TaskEventsProto.TaskCreate.newBuilder()
                .setContainerId(r.getId()).setBundle(r.getBundle()).addAllRootfs(r.getRootfsList())
                .setIo(TaskEventsProto.TaskIO.newBuilder().setStdin(r.getStdin()).setStdout(r.getStdout())
                        .setStderr(r.getStderr()).setTerminal(record.terminal()))
                .setPid(pid).build());
        return CreateTaskResponse.newBuilder().setPid(pid).build();
    }

    private void undoCreate(String zone, ImageInfo image, TaskRecord record) {
        try {
            if (zones.get().get(zone).isPresent()) {
                zones.get().destroy(zone);
            }
        } catch (ZoneException | RuntimeException e) {
            LOG.log(Level.WARNING, "cannot remove zone " + zone + " after a failed create: " + e.getMessage());
        }
        removeImage(image.id());
        try {
            Files.deleteIfExists(records.resolve(record.zone() + ".json"));
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot remove the record of " + zone + ": " + e.getMessage());
        }
    }

    private void removeImage(String id) {
        try {
            images.get().remove(id);
        } catch (ImageException | RuntimeException e) {
            // Another container with the same root may still use it; it goes with the last of them.
            LOG.log(Level.DEBUG, "image " + id + " kept: " + e.getMessage());
        }
    }

    private static JsonObject readShimFile(Path bundle) throws ShimException {
        Path f = bundle.resolve(SHIM_FILE);
        if (!Files.isRegularFile(f)) {
            return null;
        }
        try (InputStream in = Files.newInputStream(f); JsonReader r = Json.createReader(in)) {
            if (Files.size(f) > MAX_SHIM_FILE) {
                throw new ShimException(ShimException.INVALID, f + " is " + Files.size(f) + " bytes; at most "
                        + MAX_SHIM_FILE);
            }
            return r.readObject();
        } catch (IOException | JsonException | IllegalStateException e) {
            throw new ShimException(ShimException.INVALID, f + " (written by the shim binary's start) is not a JSON "
                    + "object: " + e.getMessage());
        }
    }

    /** A zone name for a container: readable, unique per namespace and id, within the zone name rules. */
    static String zoneName(String ns, String id) {
        String readable = id.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9-]", "-");
        if (readable.length() > 40) {
            readable = readable.substring(0, 40);
        }
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest((ns + "/" + id).getBytes(StandardCharsets.UTF_8));
            return "ctr-" + readable + "-" + HexFormat.of().formatHex(h).substring(0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static int hostPid(ZoneInfo info) {
        try {
            return Integer.parseInt(info.runtime().getOrDefault("pid", "0"));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    // --- Start

    private Message start(StartRequest r, String ns) throws ShimException {
        ContainerTask t = task(r.getId(), ns);
        Proc p = proc(t, r.getExecId());
        if (p.session != null || p.exit.isDone()) {
            throw new ShimException(ShimException.PRECONDITION, "process " + label(r.getId(), r.getExecId())
                    + " was started already");
        }
        if (!p.execId.isEmpty() && t.main.exit.isDone()) {
            throw new ShimException(ShimException.PRECONDITION, "container " + r.getId() + " has stopped");
        }
        if (p.spec == null) {
            throw new ShimException(ShimException.PRECONDITION, "process " + label(r.getId(), r.getExecId())
                    + " cannot be started by this appliance (its config.json could not be read again)");
        }
        ExecSession s = runInZone(t, p);
        p.session = s;
        p.pid = (int) s.pid();
        TaskRecord rec = t.record;
        if (p.execId.isEmpty()) {
            rec = rec.with(TaskRecord.RUNNING, rec.pid() == 0 ? p.pid : rec.pid(), 0, null);
            t.record = rec;
            saveQuietly(rec);
            events.publish(rec.eventsAddress(), rec.namespace(), "/tasks/start", TaskEventsProto.TaskStart
                    .newBuilder().setContainerId(rec.id()).setPid(rec.pid()).build());
        } else {
            events.publish(rec.eventsAddress(), rec.namespace(), "/tasks/exec-started", TaskEventsProto
                    .TaskExecStarted.newBuilder().setContainerId(rec.id()).setExecId(p.execId).setPid(p.pid).build());
        }
        ProcessIo.join(s, p.stdin, p.stdout, p.terminal ? p.stdout : p.stderr, label(r.getId(), p.execId),
                code -> {
                    // Closing this service breaks the agent links, not the processes: they run on in their zones,
                    // and the next service takes the task up from its record, still running.
                    if (!closing) {
                        exited(t, p, code);
                    }
                });
        return StartResponse.newBuilder().setPid(p.execId.isEmpty() ? t.record.pid() : p.pid).build();
    }

    private ExecSession runInZone(ContainerTask t, Proc p) throws ShimException {
        ZoneInfo zone = zones.get().get(t.record.zone()).orElseThrow(() -> new ShimException(
                ShimException.PRECONDITION, "the zone of container " + t.record.id() + ", " + t.record.zone()
                        + ", is gone"));
        if (!zone.state().isActive()) {
            throw new ShimException(ShimException.PRECONDITION, "zone " + zone.name() + " of container "
                    + t.record.id() + " is " + zone.state() + " " + zone.reason());
        }
        AgentEndpoint endpoint = AgentEndpoint.of(zone.runtime()).orElseThrow(() -> new ShimException(
                ShimException.PRECONDITION, "zone " + zone.name() + " has no guest agent (driver " + zone.driver()
                        + " records none)"));
        if (!AgentEndpoint.UNIX.equals(endpoint.transport())) {
            throw new ShimException(ShimException.PRECONDITION, "zone " + zone.name() + ": agent transport "
                    + endpoint.transport() + " is not known here");
        }
        try {
            ExecRequest req = new ExecRequest(p.spec.args(), p.spec.env(), p.spec.cwd(), p.spec.user(), p.terminal,
                    24, 80);
            return links.link(Path.of(endpoint.address())).exec(req, EXEC_START);
        } catch (IllegalArgumentException e) {
            throw new ShimException(ShimException.INVALID, e.getMessage());
        } catch (AgentException e) {
            throw new ShimException(ShimException.INVALID, label(t.record.id(), p.execId) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ShimException(ShimException.INTERNAL, "interrupted");
        }
    }

    /** Records a process's end once (a SIGKILL reports it before the broken agent link does). */
    private void exited(ContainerTask t, Proc p, int code) {
        Instant at = Instant.now();
        TaskRecord rec;
        synchronized (p) {
            if (p.exit.isDone()) {
                return;
            }
            p.exitedAt = at;
            rec = t.record;
            if (p.execId.isEmpty()) {
                rec = rec.with(TaskRecord.STOPPED, rec.pid(), code, at);
                t.record = rec;
                saveQuietly(rec);
            }
            p.exit.complete(code);
        }
        events.publish(rec.eventsAddress(), rec.namespace(), "/tasks/exit", TaskEventsProto.TaskExit.newBuilder()
                .setContainerId(rec.id()).setId(p.execId.isEmpty() ? rec.id() : p.execId)
                .setPid(p.execId.isEmpty() ? rec.pid() : p.pid).setExitStatus(code).setExitedAt(timestamp(at))
                .build());
        if (p.execId.isEmpty()) {
            stopZoneLater(rec.zone(), STOP_GRACE);
        }
    }

    /** The container's process ended: its zone has nothing more to do; it stays (stopped) until Delete. */
    private void stopZoneLater(String zone, Duration grace) {
        Thread t = new Thread(() -> {
            try {
                Optional<ZoneInfo> z = zones.get().get(zone);
                if (z.isPresent() && z.get().state().isActive()) {
                    zones.get().stop(zone, grace);
                }
            } catch (ZoneException | RuntimeException e) {
                LOG.log(Level.WARNING, "cannot stop zone " + zone + ": " + e.getMessage());
            }
        }, "zonekeeper-shim-stop " + zone);
        t.setDaemon(true);
        t.start();
    }

    // --- State, Wait, Pids, Connect, Shutdown

    private Message state(StateRequest r, String ns) throws ShimException {
        ContainerTask t = task(r.getId(), ns);
        refresh(t);
        Proc p = proc(t, r.getExecId());
        TaskRecord rec = t.record;
        StateResponse.Builder b = StateResponse.newBuilder().setId(r.getId()).setExecId(r.getExecId())
                .setBundle(rec.bundle()).setStdin(p.stdin).setStdout(p.stdout).setStderr(p.stderr)
                .setTerminal(p.terminal);
        if (p.execId.isEmpty()) {
            b.setPid(rec.pid()).setStatus(status(rec.status())).setExitStatus(rec.exitStatus());
            if (rec.exitedAt() != null) {
                b.setExitedAt(timestamp(rec.exitedAt()));
            }
        } else {
            b.setPid(p.pid).setStatus(p.exit.isDone() ? TaskTypesProto.Status.STOPPED : p.session == null
                    ? TaskTypesProto.Status.CREATED : TaskTypesProto.Status.RUNNING);
            if (p.exit.isDone()) {
                b.setExitStatus(p.exit.getNow(255)).setExitedAt(timestamp(p.exitedAt));
            }
        }
        return b.build();
    }

    private static TaskTypesProto.Status status(String s) {
        return switch (s) {
            case TaskRecord.CREATED -> TaskTypesProto.Status.CREATED;
            case TaskRecord.RUNNING -> TaskTypesProto.Status.RUNNING;
            case TaskRecord.STOPPED -> TaskTypesProto.Status.STOPPED;
            default -> TaskTypesProto.Status.UNKNOWN;
        };
    }

    private Message waitFor(WaitRequest r, String ns) throws ShimException {
        ContainerTask t = task(r.getId(), ns);
        Proc p = proc(t, r.getExecId());
        try {
            int code = p.exit.get();
            Instant at = p.execId.isEmpty() ? t.record.exitedAt() : p.exitedAt;
            return WaitResponse.newBuilder().setExitStatus(code).setExitedAt(timestamp(at == null ? Instant.now()
                    : at)).build();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ShimException(ShimException.INTERNAL, "interrupted while waiting");
        } catch (ExecutionException e) {
            throw new ShimException(ShimException.INTERNAL, String.valueOf(e.getCause()));
        }
    }

    private Message pids(PidsRequest r, String ns) throws ShimException {
        ContainerTask t = task(r.getId(), ns);
        PidsResponse.Builder b = PidsResponse.newBuilder();
        if (t.record.pid() != 0) {
            b.addProcesses(TaskTypesProto.ProcessInfo.newBuilder().setPid(t.record.pid()));
        }
        for (Proc p : t.execs.values()) {
            if (p.session != null && !p.exit.isDone()) {
                b.addProcesses(TaskTypesProto.ProcessInfo.newBuilder().setPid(p.pid));
            }
        }
        return b.build();
    }

    private Message connect(ConnectRequest r, String ns) {
        ContainerTask t = find(r.getId(), ns);
        return ConnectResponse.newBuilder().setShimPid((int) ProcessHandle.current().pid())
                .setTaskPid(t == null ? 0 : t.record.pid()).setVersion("zonekeeper-shim 1").build();
    }

    /** The appliance serves every task; containerd's Shutdown of one shim ends nothing here. */
    private static Message shutdown(ShutdownRequest r) {
        return Empty.getDefaultInstance();
    }

    // --- Kill, Delete

    private Message kill(KillRequest r, String ns) throws ShimException {
        ContainerTask t = task(r.getId(), ns);
        int signal = r.getSignal() == 0 ? 15 : r.getSignal();
        if (signal < 1 || signal > 64) {
            throw new ShimException(ShimException.INVALID, "signal " + signal + " is not 1..64");
        }
        Proc p = proc(t, r.getExecId());
        if (!p.execId.isEmpty()) {
            if (p.session == null || p.exit.isDone()) {
                throw new ShimException(ShimException.NOT_FOUND, "process " + label(r.getId(), p.execId)
                        + " is not running");
            }
            signal(p.session, signal, r.getId());
            return Empty.getDefaultInstance();
        }
        refresh(t);
        if (t.record.status().equals(TaskRecord.STOPPED)) {
            throw new ShimException(ShimException.NOT_FOUND, "container " + r.getId() + " is not running");
        }
        if (signal == SIGKILL || p.session == null) {
            // SIGKILL ends the zone, and so does any signal once the process's session is gone (an appliance
            // restart): the zone's own workload gets SIGTERM from the power button and the zone powers off.
            endZone(t, signal);
        } else {
            signal(p.session, signal, r.getId());
        }
        return Empty.getDefaultInstance();
    }

    private static void signal(ExecSession s, int signal, String id) throws ShimException {
        try {
            s.signal(signal);
        } catch (AgentException e) {
            throw new ShimException(ShimException.INTERNAL, "cannot signal " + id + ": " + e.getMessage(), e);
        }
    }

    private void endZone(ContainerTask t, int signal) throws ShimException {
        try {
            zones.get().stop(t.record.zone(), signal == SIGKILL ? Duration.ZERO : STOP_GRACE);
        } catch (ZoneException e) {
            throw new ShimException(ShimException.INTERNAL, "cannot stop zone " + t.record.zone() + ": "
                    + e.getMessage(), e);
        }
        if (signal == SIGKILL || t.main.session == null) {
            // The zone is gone or going, and the process with it; with a live session its output thread would
            // only learn it once the agent link gives up reconnecting.
            exited(t, t.main, 128 + signal);
        }
    }

    private Message delete(DeleteRequest r, String ns) throws ShimException {
        ContainerTask t = task(r.getId(), ns);
        if (!r.getExecId().isEmpty()) {
            Proc p = proc(t, r.getExecId());
            if (p.session != null && !p.exit.isDone()) {
                throw new ShimException(ShimException.PRECONDITION, "process " + label(r.getId(), p.execId)
                        + " is running; kill it first");
            }
            t.execs.remove(p.execId);
            Instant at = p.exitedAt == null ? Instant.now() : p.exitedAt;
            int code = p.exit.getNow(0);
            publishDelete(t.record, p.execId, p.pid, code, at);
            return DeleteResponse.newBuilder().setPid(p.pid).setExitStatus(code).setExitedAt(timestamp(at)).build();
        }
        refresh(t);
        TaskRecord rec = t.record;
        if (rec.status().equals(TaskRecord.RUNNING)) {
            throw new ShimException(ShimException.PRECONDITION, "container " + r.getId() + " is running; kill it "
                    + "first");
        }
        try {
            if (zones.get().get(rec.zone()).isPresent()) {
                zones.get().destroy(rec.zone());
            }
        } catch (ZoneException e) {
            throw new ShimException(ShimException.INTERNAL, "cannot remove zone " + rec.zone() + ": " + e.getMessage(),
                    e);
        }
        removeImage(rec.image());
        try {
            Files.deleteIfExists(records.resolve(rec.zone() + ".json"));
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot remove the record of " + rec.zone() + ": " + e.getMessage());
        }
        tasks.remove(key(rec.namespace(), rec.id()));
        Instant at = rec.exitedAt() == null ? Instant.now() : rec.exitedAt();
        publishDelete(rec, "", rec.pid(), rec.exitStatus(), at);
        return DeleteResponse.newBuilder().setPid(rec.pid()).setExitStatus(rec.exitStatus())
                .setExitedAt(timestamp(at)).build();
    }

    private void publishDelete(TaskRecord rec, String execId, int pid, int code, Instant at) {
        events.publish(rec.eventsAddress(), rec.namespace(), "/tasks/delete", TaskEventsProto.TaskDelete.newBuilder()
                .setContainerId(rec.id()).setId(execId.isEmpty() ? rec.id() : execId).setPid(pid).setExitStatus(code)
                .setExitedAt(timestamp(at)).build());
    }

    // --- Exec, ResizePty, CloseIO

    private Message exec(ExecProcessRequest r, String ns) throws ShimException {
        ContainerTask t = task(r.getId(), ns);
        if (r.getExecId().isEmpty() || !ID.matcher(r.getExecId()).matches()) {
            throw new ShimException(ShimException.INVALID, "exec id '" + r.getExecId() + "' is not an id");
        }
        if (t.execs.containsKey(r.getExecId())) {
            throw new ShimException(ShimException.EXISTS, "exec " + r.getExecId() + " exists in " + r.getId());
        }
        if (!t.record.status().equals(TaskRecord.RUNNING)) {
            throw new ShimException(ShimException.PRECONDITION, "container " + r.getId() + " is not running");
        }
        JsonObject process;
        try (JsonReader jr = Json.createReader(r.getSpec().getValue().newInput())) {
            process = jr.readObject();
        } catch (JsonException | IllegalStateException e) {
            throw new ShimException(ShimException.INVALID, "the exec's process spec (" + r.getSpec().getTypeUrl()
                    + ") is not a JSON object: " + e.getMessage());
        }
        ProcessSpec spec = ProcessSpec.of(process, "exec " + r.getExecId());
        Proc p = new Proc(r.getExecId(), spec, r.getStdin(), r.getStdout(), r.getStderr(), r.getTerminal()
                || spec.terminal());
        if (t.execs.putIfAbsent(p.execId, p) != null) {
            throw new ShimException(ShimException.EXISTS, "exec " + r.getExecId() + " exists in " + r.getId());
        }
        events.publish(t.record.eventsAddress(), t.record.namespace(), "/tasks/exec-added", TaskEventsProto
                .TaskExecAdded.newBuilder().setContainerId(r.getId()).setExecId(p.execId).build());
        return Empty.getDefaultInstance();
    }

    private Message resize(ResizePtyRequest r, String ns) throws ShimException {
        Proc p = proc(task(r.getId(), ns), r.getExecId());
        if (p.session != null && p.terminal) {
            try {
                p.session.resize(Math.min(r.getHeight(), 0xFFFF), Math.min(r.getWidth(), 0xFFFF));
            } catch (AgentException e) {
                throw new ShimException(ShimException.INTERNAL, "cannot resize: " + e.getMessage(), e);
            }
        }
        return Empty.getDefaultInstance();
    }

    private Message closeIo(CloseIORequest r, String ns) throws ShimException {
        Proc p = proc(task(r.getId(), ns), r.getExecId());
        if (r.getStdin() && p.session != null) {
            try {
                p.session.closeStdin();
            } catch (AgentException e) {
                throw new ShimException(ShimException.INTERNAL, "cannot close stdin: " + e.getMessage(), e);
            }
        }
        return Empty.getDefaultInstance();
    }

    /**
     * The zone's figures as cgroup v2 metrics, which containerd and the kubelet read: CPU time of the zone (all of
     * it counts as the container's) and its memory, with the zone's memory as the limit.
     */
    private Message stats(StatsRequest r, String ns) throws ShimException {
        ContainerTask t = task(r.getId(), ns);
        ZoneInfo zone = zones.get().get(t.record.zone()).orElseThrow(() -> new ShimException(ShimException.NOT_FOUND,
                "the zone of container " + r.getId() + " is gone"));
        double cpuSeconds = 0;
        double memory = 0;
        for (ZoneMetricsSource source : metrics.get()) {
            for (ZoneMetric m : source.collect(zone)) {
                switch (m.name()) {
                    case "zonekeeper_zone_cpu_seconds" -> cpuSeconds += m.value();
                    case "zonekeeper_zone_memory_rss_bytes", "zonekeeper_zone_memory_bytes" -> memory = Math.max(
                            memory, m.value());
                    default -> {
                        // other figures have no place in cgroup metrics
                    }
                }
            }
        }
        long usec = (long) (cpuSeconds * 1_000_000);
        CgroupV2Proto.Metrics m = CgroupV2Proto.Metrics.newBuilder()
                .setCpu(CgroupV2Proto.CPUStat.newBuilder().setUsageUsec(usec))
                .setMemory(CgroupV2Proto.MemoryStat.newBuilder().setUsage((long) memory)
                        .setUsageLimit(zone.spec().memoryMiB() * 1024L * 1024L))
                .setPids(CgroupV2Proto.PidsStat.newBuilder().setCurrent(1 + t.execs.values().stream()
                        .filter(p -> p.session != null && !p.exit.isDone()).count()))
                .build();
        return StatsResponse.newBuilder().setStats(com.google.protobuf.Any.newBuilder()
                .setTypeUrl(m.getDescriptorForType().getFullName()).setValue(m.toByteString())).build();
    }

    // --- tasks and records

    private static String key(String ns, String id) {
        return ns + "/" + id;
    }

    private ContainerTask find(String id, String ns) {
        ContainerTask t = tasks.get(key(ns, id));
        if (t != null) {
            return t;
        }
        // A request without namespace metadata: the id alone, if it names one task.
        List<ContainerTask> byId = tasks.values().stream().filter(x -> x.record.id().equals(id)).toList();
        return byId.size() == 1 ? byId.get(0) : null;
    }

    private ContainerTask task(String id, String ns) throws ShimException {
        ContainerTask t = find(id, ns);
        if (t == null) {
            throw new ShimException(ShimException.NOT_FOUND, "no task " + id + " in namespace " + ns);
        }
        return t;
    }

    private static Proc proc(ContainerTask t, String execId) throws ShimException {
        if (execId.isEmpty()) {
            return t.main;
        }
        Proc p = t.execs.get(execId);
        if (p == null) {
            throw new ShimException(ShimException.NOT_FOUND, "no exec " + execId + " in " + t.record.id());
        }
        return p;
    }

    /**
     * A task whose process session is gone (a restarted appliance) learns its end from its zone: when the zone no
     * longer runs, the task stopped, with the exit its init reported or 137.
     */
    private void refresh(ContainerTask t) {
        if (t.main.session != null || t.main.exit.isDone() || !t.record.status().equals(TaskRecord.RUNNING)) {
            return;
        }
        Optional<ZoneInfo> z = zones.get().get(t.record.zone());
        if (z.isEmpty() || !z.get().state().isActive()) {
            int code = 128 + SIGKILL;
            // Only a zone that stopped carries the init's exit line; a crashed zone's reason quotes the guest's
            // console, which the guest controls, so it gives no exit code. A status is 0..255 whatever it says.
            if (z.isPresent() && z.get().state() == ZoneState.STOPPED) {
                Matcher m = WORKLOAD_EXIT.matcher(z.get().reason());
                if (m.find()) {
                    code = Math.min(255, Integer.parseInt(m.group(1)));
                }
            }
            exited(t, t.main, code);
        }
    }

    /** Takes up the tasks of an earlier appliance from their records. */
    public void load() {
        if (!Files.isDirectory(records)) {
            return;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(records, "*.json")) {
            for (Path f : ds) {
                try {
                    TaskRecord rec = TaskRecord.load(f);
                    ProcessSpec spec = null;
                    if (rec.status().equals(TaskRecord.CREATED)) {
                        try {
                            spec = ContainerConfig.read(Path.of(rec.bundle())).process();
                        } catch (ShimException e) {
                            LOG.log(Level.WARNING, "task " + rec.id() + " cannot start: " + e.getMessage());
                        }
                    }
                    Proc main = new Proc("", spec, rec.stdin(), rec.stdout(), rec.stderr(), rec.terminal());
                    if (rec.status().equals(TaskRecord.STOPPED)) {
                        main.exitedAt = rec.exitedAt();
                        main.exit.complete(rec.exitStatus());
                    }
                    ContainerTask t = new ContainerTask(rec, main);
                    tasks.put(key(rec.namespace(), rec.id()), t);
                    LOG.log(Level.INFO, "took up container task " + rec.namespace() + "/" + rec.id() + " (zone "
                            + rec.zone() + ", " + rec.status() + ")");
                } catch (IOException e) {
                    LOG.log(Level.WARNING, "skipping task record: " + e.getMessage());
                }
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot read task records in " + records + ": " + e.getMessage());
        }
    }

    /** Checks the tasks without a session against their zones; the component calls it every few seconds. */
    public void watch() {
        for (ContainerTask t : tasks.values()) {
            try {
                refresh(t);
            } catch (RuntimeException e) {
                LOG.log(Level.DEBUG, "cannot check task " + t.record.id() + ": " + e);
            }
        }
    }

    List<String> taskNames() {
        return new ArrayList<>(tasks.keySet());
    }

    private void saveQuietly(TaskRecord rec) {
        try {
            rec.save(records);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot save the record of task " + rec.id() + ": " + e.getMessage());
        }
    }

    private static String label(String id, String execId) {
        return execId.isEmpty() ? id : id + " exec " + execId;
    }

    private static Timestamp timestamp(Instant at) {
        return Timestamp.newBuilder().setSeconds(at.getEpochSecond()).setNanos(at.getNano()).build();
    }

    public void close() {
        closing = true;
        links.close();
    }
}
