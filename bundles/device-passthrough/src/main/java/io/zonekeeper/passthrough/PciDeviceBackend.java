package io.zonekeeper.passthrough;

import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

import io.zonekeeper.api.DeviceSpec;
import io.zonekeeper.api.FieldError;
import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.passthrough.bind.DeviceBinder;
import io.zonekeeper.passthrough.bind.FileSysfsWriter;
import io.zonekeeper.passthrough.bind.Restoration;
import io.zonekeeper.passthrough.pci.IommuGroups;
import io.zonekeeper.passthrough.pci.Isolation;
import io.zonekeeper.passthrough.pci.PciAddress;
import io.zonekeeper.passthrough.pci.PciDevice;
import io.zonekeeper.passthrough.pci.PciInventory;
import io.zonekeeper.passthrough.pci.Verdict;
import io.zonekeeper.passthrough.vfio.VfioBinder;
import io.zonekeeper.passthrough.xen.ProcessCommandRunner;
import io.zonekeeper.passthrough.xen.XenPciback;
import io.zonekeeper.spi.DeviceBackend;
import io.zonekeeper.spi.PlatformNeed;
import io.zonekeeper.spi.PreparedDevice;
import io.zonekeeper.spi.StateLocation;

/**
 * The device backend for type {@code pci}: host PCI functions given to zones, each with the rest of its IOMMU group,
 * on vfio-pci (KVM hosts) or on xen-pciback (a Xen dom0).
 *
 * <p>At activation, before zone-core can call it, the ledger is reconciled with the zones as zone-core stored them:
 * a device held for a zone that is not active goes back to its original driver (the appliance died between the
 * bind and the start, or the zone was destroyed meanwhile); one held for an active zone stays. An active zone that
 * its driver then fails to adopt is ended by zone-core, which calls {@link #release}.
 */
@Component(service = { DeviceBackend.class, PciDeviceBackend.class }, immediate = true,
        configurationPid = PciDeviceBackend.PID, property = DeviceBackend.TYPE_PROPERTY + "=" + DeviceSpec.TYPE_PCI)
@Designate(ocd = PassthroughConfig.class)
public class PciDeviceBackend implements DeviceBackend {
    public static final String PID = "io.zonekeeper.passthrough";
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.passthrough");

    /** How devices are handed over on this host. */
    public enum Mode { VFIO, XEN }

    @Reference
    private ZoneManager zones;
    @Reference
    private StateLocation state;

    private Path sysfsRoot;
    private Path stateDirectory;
    private Mode mode;
    private String xl;
    private DeviceAssignments host;

    public PciDeviceBackend() {
    }

    /** Without a framework: tests and embedders. */
    public PciDeviceBackend(DeviceAssignments host, ZoneManager zones, Mode mode) {
        this.host = host;
        this.zones = zones;
        this.mode = mode;
    }

    @Activate
    void activate(PassthroughConfig config) {
        String root = config.sysfsRoot() == null || config.sysfsRoot().isBlank() ? "/sys" : config.sysfsRoot().trim();
        this.sysfsRoot = Path.of(root);
        this.stateDirectory = state.directory();
        this.xl = config.xlBinary() == null || config.xlBinary().isBlank() ? "xl" : config.xlBinary().trim();
        String m = config.mode() == null ? "auto" : config.mode().trim().toLowerCase();
        this.mode = switch (m) {
            case "vfio" -> Mode.VFIO;
            case "xen" -> Mode.XEN;
            default -> {
                if (!m.equals("auto")) {
                    LOG.log(Level.WARNING, "mode '" + m + "' in " + PID + " is not auto, vfio or xen; using auto");
                }
                yield XenPciback.isDom0(Path.of("/proc/xen/capabilities")) ? Mode.XEN : Mode.VFIO;
            }
        };
        reconcile();
    }

    @Override
    public String type() {
        return DeviceSpec.TYPE_PCI;
    }

    public Mode mode() {
        return mode;
    }

    /**
     * Gives back the devices of zones that are not active, keeps those of active ones; logs what it did. Called at
     * activation, before zone-core can call this backend.
     */
    public ReconcileReport reconcile() {
        try {
            DeviceAssignments h = host();
            Set<UUID> active = zones.list().stream().filter(z -> z.state().isActive()).map(ZoneInfo::id)
                    .collect(Collectors.toSet());
            ReconcileReport report = h.reconcile(active);
            for (ReconcileReport.Action a : report.actions()) {
                boolean fine = a.outcome() == ReconcileReport.Outcome.KEPT
                        || a.outcome() == ReconcileReport.Outcome.RESTORED;
                LOG.log(fine ? Level.INFO : Level.WARNING, "pci device ledger after a restart: " + a);
            }
            return report;
        } catch (PassthroughException e) {
            LOG.log(Level.ERROR, "cannot reconcile the pci device ledger: " + e.getMessage());
            return new ReconcileReport(List.of());
        }
    }

    @Override
    public List<FieldError> validate(List<IndexedDevice> devices) {
        List<FieldError> errors = new ArrayList<>();
        Map<PciAddress, String> named = parse(devices, errors);
        if (named.isEmpty()) {
            return errors;
        }
        DeviceAssignments h;
        try {
            h = host();
        } catch (PassthroughException e) {
            errors.add(new FieldError(named.values().iterator().next(), e.getMessage()));
            return errors;
        }
        List<PciAddress> all = List.copyOf(named.keySet());
        for (Map.Entry<PciAddress, String> e : named.entrySet()) {
            try {
                if (h.inventory().find(e.getKey()).isEmpty()) {
                    errors.add(new FieldError(e.getValue(), "no PCI device " + e.getKey() + " on this host; "
                            + "device:list shows the devices it has"));
                    continue;
                }
                Verdict v = h.viability().assess(e.getKey(), all, null);
                if (!v.assignable()) {
                    errors.add(new FieldError(e.getValue(), v.reason()));
                }
            } catch (PassthroughException ex) {
                errors.add(new FieldError(e.getValue(), ex.getMessage()));
            }
        }
        return errors;
    }

    @Override
    public List<PreparedDevice> prepare(UUID zoneId, String zoneName, Path zoneDirectory,
            List<IndexedDevice> devices) throws ZoneException {
        List<FieldError> errors = new ArrayList<>();
        Map<PciAddress, String> named = parse(devices, errors);
        if (!errors.isEmpty()) {
            throw new ZoneException("zone " + zoneName + ": " + errors.stream().map(FieldError::toString)
                    .collect(Collectors.joining("; ")));
        }
        ZoneRef zone = new ZoneRef(zoneId, zoneName);
        DeviceAssignments h = host();
        synchronized (h) {
            if (!h.ledger().ofZone(zoneId).isEmpty()) {
                logRestorations(zone, h.release(zoneId));
            }
            if (named.isEmpty()) {
                return List.of();
            }
            List<Assignment> taken = h.assign(zone, List.copyOf(named.keySet()));
            return render(h, List.copyOf(named.keySet()), taken);
        }
    }

    @Override
    public void release(UUID zoneId, String zoneName) {
        try {
            DeviceAssignments h = host();
            logRestorations(new ZoneRef(zoneId, zoneName), h.release(zoneId));
        } catch (PassthroughException e) {
            LOG.log(Level.ERROR, "giving back the pci devices of zone " + zoneName + " failed: " + e.getMessage()
                    + "; they stay held for it (device:list), and the next appliance start tries again");
        }
    }

    @Override
    public List<String> orphans(Set<UUID> activeZones) {
        List<String> lines = new ArrayList<>();
        try {
            for (Assignment a : host().ledger().all()) {
                if (!activeZones.contains(a.zone().id())) {
                    lines.add(a.address() + " is held for zone " + a.zone().name() + " (" + a.zone().id() + "), which"
                            + " is not active; it was on " + a.binding().originalDriver().orElse("no driver")
                            + " before; device:release " + a.zone().name() + " gives it back");
                }
            }
        } catch (PassthroughException e) {
            lines.add("cannot read the pci device ledger: " + e.getMessage());
        }
        return lines;
    }

    /**
     * Holds devices for an existing zone by hand (device:assign), as a zone start would. They go back when the
     * zone's guest ends, at the zone's next start, or by {@link #releaseByHand}.
     */
    public List<Assignment> assignByHand(String zoneName, List<PciAddress> devices) throws ZoneException {
        ZoneInfo info = zones.get(zoneName).orElseThrow(() -> new ZoneException("no zone " + zoneName
                + "; devices are held for zones (zone:list shows them)"));
        return host().assign(new ZoneRef(info.id(), info.name()), devices);
    }

    /** Gives back what a zone holds (device:release); refused while its guest runs, which has the devices open. */
    public List<Restoration> releaseByHand(String zoneName) throws ZoneException {
        Optional<ZoneInfo> info = zones.get(zoneName);
        if (info.isPresent() && info.get().state().isActive()) {
            throw new ZoneException("zone " + zoneName + " is " + info.get().state() + " and its guest has the "
                    + "devices open; stop it first (its devices are given back when it stops)");
        }
        DeviceAssignments h = host();
        List<UUID> ids = h.ledger().zones().values().stream().filter(z -> z.name().equals(zoneName))
                .map(ZoneRef::id).toList();
        if (ids.isEmpty()) {
            throw new ZoneException("zone " + zoneName + " holds no pci device");
        }
        // More than one id: a zone of that name was destroyed and created again; none of them runs now.
        List<Restoration> all = new ArrayList<>();
        for (UUID id : ids) {
            all.addAll(h.release(id));
        }
        return all;
    }

    /** The host's devices and ledger, opened on first use so that an unreadable ledger is reported when needed. */
    public synchronized DeviceAssignments host() throws PassthroughException {
        if (host == null) {
            if (!sysfsRoot.isAbsolute()) {
                throw new PassthroughException("sysfsRoot must be an absolute path, not '" + sysfsRoot + "'; set it "
                        + "in the configuration " + PID);
            }
            PciInventory inventory = new PciInventory(sysfsRoot);
            FileSysfsWriter writer = new FileSysfsWriter();
            Isolation isolation;
            DeviceBinder binder;
            if (mode == Mode.XEN) {
                XenPciback xen = new XenPciback(inventory, new ProcessCommandRunner(Duration.ofSeconds(60)), xl,
                        writer);
                isolation = xen;
                binder = xen;
            } else {
                isolation = new IommuGroups(inventory);
                binder = new VfioBinder(inventory, writer);
            }
            host = new DeviceAssignments(inventory, isolation, binder,
                    AssignmentLedger.inStateDirectory(stateDirectory, inventory, binder));
        }
        return host;
    }

    /**
     * One entry per function the driver renders, in the order the spec names them: each named function followed
     * by the other functions of its device that went along. Other devices of an IOMMU group are held, not rendered.
     */
    private List<PreparedDevice> render(DeviceAssignments h, List<PciAddress> named, List<Assignment> taken)
            throws PassthroughException {
        List<PciAddress> order = new ArrayList<>();
        for (PciAddress a : named) {
            if (!order.contains(a)) {
                order.add(a);
            }
            for (Assignment t : taken) {
                if (t.address().sameSlot(a) && !order.contains(t.address())) {
                    order.add(t.address());
                }
            }
        }
        Set<PlatformNeed> needs = mode == Mode.XEN ? Set.of() : Set.of(PlatformNeed.PCIE);
        List<PreparedDevice> out = new ArrayList<>();
        for (PciAddress a : order) {
            long functions = order.stream().filter(o -> o.sameSlot(a)).count();
            Map<String, String> attributes = new LinkedHashMap<>();
            attributes.put("host", a.toString());
            attributes.put("slot", a.slot());
            attributes.put("multifunction", Boolean.toString(functions > 1));
            PciDevice device = h.inventory().device(a);
            if (device.iommuGroup().isPresent()) {
                attributes.put("group", Integer.toString(device.iommuGroup().getAsInt()));
            }
            out.add(new PreparedDevice(DeviceSpec.TYPE_PCI, "hostpci-" + a.toString().replace(':', '-')
                    .replace('.', '-'), attributes, needs));
        }
        return out;
    }

    private static Map<PciAddress, String> parse(List<IndexedDevice> devices, List<FieldError> errors) {
        Map<PciAddress, String> named = new LinkedHashMap<>();
        for (IndexedDevice d : devices) {
            String field = d.field() + ".address";
            String text = d.device().address();
            if (text == null || text.isBlank()) {
                errors.add(new FieldError(field, "a pci device needs the address of a host function, such as "
                        + "0000:01:00.0"));
                continue;
            }
            PciAddress address;
            try {
                address = PciAddress.parse(text);
            } catch (IllegalArgumentException e) {
                errors.add(new FieldError(field, e.getMessage()));
                continue;
            }
            String before = named.putIfAbsent(address, field);
            if (before != null) {
                errors.add(new FieldError(field, address + " is named twice (also in " + before + ")"));
            }
        }
        return named;
    }

    private static void logRestorations(ZoneRef zone, List<Restoration> restorations) {
        for (Restoration r : restorations) {
            LOG.log(r.restored() ? Level.INFO : Level.WARNING, "zone " + zone.name() + " gave back " + r);
        }
    }
}
