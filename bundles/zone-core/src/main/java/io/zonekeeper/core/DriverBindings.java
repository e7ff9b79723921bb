package io.zonekeeper.core;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
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
 * (being upgraded, say) waits for it up to the driver wait.
 */
final class DriverBindings {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.core");

    private final Map<String, List<DriverBinding>> drivers = new TreeMap<>();
    private volatile Duration driverWait = Duration.ofSeconds(15);

    void driverWait(Duration wait) {
        this.driverWait = wait;
    }

    Duration driverWait() {
        return driverWait;
    }

    void add(DriverBinding binding) {
        synchronized (drivers) {
            List<DriverBinding> list = drivers.computeIfAbsent(binding.type, t -> new ArrayList<>());
            list.add(binding);
            list.sort(Comparator.comparingInt((DriverBinding b) -> -b.ranking).thenComparingLong(b -> b.serviceId));
            drivers.notifyAll();
        }
        LOG.log(Level.INFO, "driver " + binding.type + " bound (" + binding.describe() + ")");
    }

    /** Unbinds the driver; returns its binding, or null when it was not bound. */
    DriverBinding remove(HypervisorDriver driver) {
        DriverBinding gone = null;
        synchronized (drivers) {
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
            return list == null || list.isEmpty() ? null : list.get(0);
        }
    }

    /** Every bound driver, the active one of each type first. */
    List<DriverView> views() {
        List<DriverBinding> all;
        synchronized (drivers) {
            all = drivers.values().stream().flatMap(List::stream).collect(Collectors.toList());
        }
        List<DriverView> views = new ArrayList<>();
        for (DriverBinding b : all) {
            Capabilities caps;
            try {
                caps = b.driver.capabilities();
            } catch (RuntimeException e) {
                caps = new Capabilities(Set.of(), 0, 0, Map.of("error", e.toString()));
            }
            views.add(new DriverView(b.type, b.bundle, b.version, b == active(b.type), caps));
        }
        return views;
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
