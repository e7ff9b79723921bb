package io.zonekeeper.core;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.stream.Collectors;

import io.zonekeeper.api.DeviceSpec;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.spi.Capabilities;
import io.zonekeeper.spi.Feature;
import io.zonekeeper.spi.HypervisorDriver;

/**
 * The bound drivers by type, the active one of each type first (highest ranking, then oldest service), and the
 * choice of a driver for a spec by what each driver says it can do. A caller that needs a driver that is away
 * (being upgraded, say) waits for it up to the driver wait. A type belongs to the bundle that first provided it;
 * another bundle's driver of that type binds only with the operator's consent ({@link #TAKEOVER_PREFIX}), so that
 * a bundle dropped into deploy/ cannot take zones over by registering a higher-ranked driver of the same type.
 */
final class DriverBindings {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.core");

    private final Map<String, List<DriverBinding>> drivers = new TreeMap<>();
    /** Bindings that arrived before {@link #settle}. */
    private final List<DriverBinding> unsettled = new ArrayList<>();
    /** By type, the bundles (symbolic names) whose drivers of that type may bind. */
    private final Map<String, Set<String>> owners = new TreeMap<>();
    /** Drivers not bound because their type belongs to another bundle, with the reason. */
    private final Map<DriverBinding, String> refused = new LinkedHashMap<>();
    private Map<String, Set<String>> consents = Map.of();
    /**
     * Bundles (ids) whose drivers are bound but held back: a driver upgrade starts the new bundle beside the running
     * one, and its driver becomes active only at the switch ({@link #unstage}).
     */
    private final Set<Long> staged = new TreeSet<>();
    private boolean settled;
    private volatile Duration driverWait = Duration.ofSeconds(15);

    void driverWait(Duration wait) {
        this.driverWait = wait;
    }

    Duration driverWait() {
        return driverWait;
    }

    /**
     * The operator's consent that bundle {@code bundle} (symbolic name) may bind drivers of {@code type}, a type
     * that another bundle provides already: the configuration key {@code driver.takeover.TYPE = BUNDLE[,BUNDLE]}.
     */
    static final String TAKEOVER_PREFIX = "driver.takeover.";

    /** The consents of a configuration: its {@code driver.takeover.TYPE} keys, by type. */
    static Map<String, Set<String>> takeoverConsents(Map<String, ?> config) {
        Map<String, Set<String>> consents = new TreeMap<>();
        config.forEach((key, value) -> {
            if (key.startsWith(TAKEOVER_PREFIX) && key.length() > TAKEOVER_PREFIX.length()) {
                Object[] values = value instanceof Object[] a ? a : new Object[] { value };
                for (Object v : values) {
                    for (String bundle : String.valueOf(v).split(",")) {
                        if (!bundle.isBlank()) {
                            consents.computeIfAbsent(key.substring(TAKEOVER_PREFIX.length()), t -> new TreeSet<>())
                                    .add(bundle.trim());
                        }
                    }
                }
            }
        });
        return consents;
    }

    /**
     * Settles the drivers bound so far, before the registry opens: the framework binds them in no set order, so
     * the owner of each type is the bundle installed first (the lowest bundle id: the appliance's own features
     * install before anything from deploy/), and bundles the operator consented to. Every other bundle's
     * drivers of that type are refused.
     */
    void settle(Map<String, Set<String>> consents) {
        List<DriverBinding> waiting;
        synchronized (drivers) {
            this.consents = Map.copyOf(consents);
            settled = true;
            waiting = new ArrayList<>(unsettled);
            unsettled.clear();
            waiting.sort(Comparator.comparingLong((DriverBinding b) -> b.bundleId).thenComparingLong(b -> b.serviceId));
        }
        waiting.forEach(this::add);
    }

    /** Binds a driver, unless its type belongs to another bundle and the operator has not consented. */
    void add(DriverBinding binding) {
        String refusal;
        synchronized (drivers) {
            if (!settled) {
                unsettled.add(binding);
                return;
            }
            refusal = refusal(binding);
            if (refusal == null) {
                owners.computeIfAbsent(binding.type, t -> new TreeSet<>()).add(binding.bundle);
                List<DriverBinding> list = drivers.computeIfAbsent(binding.type, t -> new ArrayList<>());
                list.add(binding);
                list.sort(Comparator.comparingInt((DriverBinding b) -> -b.ranking)
                        .thenComparingLong(b -> b.serviceId));
                drivers.notifyAll();
            } else {
                refused.put(binding, refusal);
            }
        }
        if (refusal == null) {
            LOG.log(Level.INFO, "driver " + binding.type + " bound (" + binding.describe() + ")");
        } else {
            LOG.log(Level.WARNING, "driver " + binding.type + " of " + binding.describe() + " refused: " + refusal);
        }
    }

    /**
     * Why the binding may not bind, or null. A type's owners are remembered after their drivers leave, so that
     * while a driver is being upgraded (briefly unbound) no other bundle can step in.
     */
    private String refusal(DriverBinding binding) {
        Set<String> owner = owners.get(binding.type);
        if (owner == null || owner.contains(binding.bundle)
                || consents.getOrDefault(binding.type, Set.of()).contains(binding.bundle)) {
            return null;
        }
        return "driver type " + binding.type + " is already provided by " + String.join(", ", owner)
                + "; to let " + binding.bundle + " take it over, set " + TAKEOVER_PREFIX + binding.type + " = "
                + binding.bundle + " in the io.zonekeeper.core configuration (etc/io.zonekeeper.core.cfg)";
    }

    /** Unbinds the driver; returns its binding, or null when it was not bound. */
    DriverBinding remove(HypervisorDriver driver) {
        DriverBinding gone = null;
        synchronized (drivers) {
            unsettled.removeIf(b -> b.driver == driver);
            refused.keySet().removeIf(b -> b.driver == driver);
            for (List<DriverBinding> list : drivers.values()) {
                for (DriverBinding b : list) {
                    if (b.driver == driver) {
                        gone = b;
                    }
                }
                list.removeIf(b -> b.driver == driver);
            }
            drivers.values().removeIf(List::isEmpty);
        }
        return gone;
    }

    List<String> types() {
        synchronized (drivers) {
            return new ArrayList<>(drivers.keySet());
        }
    }

    DriverBinding active(String type) {
        synchronized (drivers) {
            List<DriverBinding> list = drivers.get(type);
            if (list != null) {
                for (DriverBinding b : list) {
                    if (!staged.contains(b.bundleId)) {
                        return b;
                    }
                }
            }
            return null;
        }
    }

    /** Holds back the drivers of bundle {@code bundleId}: bound, but never active, until {@link #unstage}. */
    void stage(long bundleId) {
        synchronized (drivers) {
            staged.add(bundleId);
        }
    }

    /**
     * Holds back the drivers of bundle {@code from} and lets those of bundle {@code to} be active, in one step: no
     * caller sees neither or both active.
     */
    void switchTo(long from, long to) {
        synchronized (drivers) {
            staged.add(from);
            staged.remove(to);
            drivers.notifyAll();
        }
    }

    /** Lets the drivers of bundle {@code bundleId} be active again, and wakes whoever waits for a driver. */
    void unstage(long bundleId) {
        synchronized (drivers) {
            staged.remove(bundleId);
            drivers.notifyAll();
        }
    }

    /** Waits until a driver of {@code type} from bundle {@code bundleId} is bound, active or not; null on timeout. */
    DriverBinding awaitBound(String type, long bundleId, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (drivers) {
            while (true) {
                for (DriverBinding b : drivers.getOrDefault(type, List.of())) {
                    if (b.bundleId == bundleId) {
                        return b;
                    }
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return null;
                }
                try {
                    drivers.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return null;
                }
            }
        }
    }

    /** Every bound driver, the active one of each type first, then the refused ones with the reason. */
    List<DriverView> views() {
        List<DriverBinding> all;
        Map<DriverBinding, String> notBound;
        synchronized (drivers) {
            all = drivers.values().stream().flatMap(List::stream).collect(Collectors.toList());
            notBound = new LinkedHashMap<>(refused);
        }
        List<DriverView> views = new ArrayList<>();
        for (DriverBinding b : all) {
            views.add(new DriverView(b.type, b.bundle, b.version, b == active(b.type), capabilities(b)));
        }
        notBound.forEach((b, why) -> views.add(new DriverView(b.type, b.bundle, b.version, false, capabilities(b),
                why)));
        return views;
    }

    private static Capabilities capabilities(DriverBinding b) {
        try {
            return b.driver.capabilities();
        } catch (RuntimeException e) {
            return new Capabilities(Set.of(), 0, 0, Map.of("error", e.toString()));
        }
    }

    /** The active binding of {@code type}, waiting for one up to the driver wait; {@code why} starts the error. */
    DriverBinding await(String type, String why) throws ZoneException {
        long deadline = System.nanoTime() + driverWait.toNanos();
        synchronized (drivers) {
            while (true) {
                DriverBinding b = active(type);
                if (b != null) {
                    return b;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new ZoneException(why + ": no '" + type + "' driver is bound (waited "
                            + driverWait.toSeconds() + " s). Check driver:list; if the driver is being upgraded, "
                            + "try again in a moment");
                }
                try {
                    drivers.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new ZoneException(why + ": interrupted while waiting for driver " + type);
                }
            }
        }
    }

    /** Waits until the active binding of {@code type} is one that {@code which} accepts; null on timeout. */
    DriverBinding awaitBinding(String type, Predicate<DriverBinding> which, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (drivers) {
            while (true) {
                DriverBinding b = active(type);
                if (b != null && which.test(b)) {
                    return b;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return null;
                }
                try {
                    drivers.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return null;
                }
            }
        }
    }

    /**
     * The driver for a zone: the one its spec names, else the first type (by name) whose active driver can run
     * it. Refuses with every driver's reason when none can.
     */
    DriverBinding choose(ZoneSpec spec) throws ZoneException {
        if (spec.hypervisor() != null) {
            return await(spec.hypervisor(), "zone " + spec.name() + " asks for hypervisor " + spec.hypervisor());
        }
        List<String> why = new ArrayList<>();
        long deadline = System.nanoTime() + driverWait.toNanos();
        do {
            why.clear();
            for (String type : types()) {
                DriverBinding b = active(type);
                if (b == null) {
                    continue;
                }
                String misfit = misfit(spec, b.driver.capabilities());
                if (misfit == null) {
                    return b;
                }
                why.add(type + ": " + misfit);
            }
            if (!why.isEmpty()) {
                break;
            }
            synchronized (drivers) {
                try {
                    drivers.wait(200);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        } while (System.nanoTime() < deadline);
        if (why.isEmpty()) {
            throw new ZoneException("no hypervisor driver is bound; install one (driver:list shows what is there)");
        }
        throw new ZoneException("no bound driver can run zone " + spec.name() + ": " + String.join("; ", why));
    }

    static void checkFits(ZoneSpec spec, DriverBinding b) throws ZoneException {
        String misfit = misfit(spec, b.driver.capabilities());
        if (misfit != null) {
            throw new ZoneException("driver " + b.describe() + " cannot run zone " + spec.name() + ": " + misfit);
        }
    }

    /** Why the driver cannot run the spec, or null when it can. */
    static String misfit(ZoneSpec spec, Capabilities caps) {
        List<String> problems = new ArrayList<>();
        if (spec.vcpus() > caps.maxVcpus()) {
            problems.add("vcpus " + spec.vcpus() + " exceeds its maximum of " + caps.maxVcpus());
        }
        if (spec.memoryMiB() > caps.maxMemoryMiB()) {
            problems.add("memoryMiB " + spec.memoryMiB() + " exceeds the " + caps.maxMemoryMiB()
                    + " MiB it can give");
        }
        need(problems, caps, Feature.CHANNELS, !spec.channels().isEmpty(), "channels");
        spec.devices().stream().map(DeviceSpec::type).distinct()
                .filter(t -> !caps.renders(t))
                .forEach(t -> problems.add("it does not render " + t + " devices"));
        need(problems, caps, Feature.NETWORK, !spec.networks().isEmpty(), "networks");
        need(problems, caps, Feature.DISK, !spec.disks().isEmpty(), "disks");
        return problems.isEmpty() ? null : String.join(", ", problems);
    }

    private static void need(List<String> problems, Capabilities caps, Feature f, boolean wanted, String field) {
        if (wanted && !caps.supports(f)) {
            problems.add("it does not support " + field);
        }
    }
}
