package io.zonekeeper.passthrough.vfio;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

import io.zonekeeper.passthrough.PassthroughException;
import io.zonekeeper.passthrough.bind.Binding;
import io.zonekeeper.passthrough.bind.DeviceBinder;
import io.zonekeeper.passthrough.bind.HostTransaction;
import io.zonekeeper.passthrough.bind.Restoration;
import io.zonekeeper.passthrough.bind.SysfsWriter;
import io.zonekeeper.passthrough.pci.PciAddress;
import io.zonekeeper.passthrough.pci.PciDevice;
import io.zonekeeper.passthrough.pci.PciInventory;

/**
 * Moves endpoints to vfio-pci and back, each move a transaction: a failure halfway puts back exactly what was
 * changed. Binding is the kernel's own sequence (driver_override, unbind, drivers_probe), the one libvirt uses.
 * Every step looks at the device first and is skipped when already done, so releasing works on a device left
 * half-way by a crash.
 */
public final class VfioBinder implements DeviceBinder {
    private static final String VFIO = PciInventory.VFIO_PCI;

    private final PciInventory inventory;
    private final SysfsWriter writer;

    public VfioBinder(PciInventory inventory, SysfsWriter writer) {
        this.inventory = inventory;
        this.writer = writer;
    }

    /**
     * Reads what each endpoint is on now, and checks that binding can work. Writes nothing.
     *
     * @throws PassthroughException the IOMMU is off, vfio-pci is not loaded, or an endpoint is missing or has no
     *                              IOMMU group
     */
    @Override
    public List<Binding> prepare(List<PciAddress> endpoints) throws PassthroughException {
        checkHost();
        List<Binding> bindings = new ArrayList<>();
        for (PciAddress address : endpoints) {
            PciDevice device = checkEndpoint(address);
            bindings.add(new Binding(address, device.driver(), device.driverOverride()));
        }
        return bindings;
    }

    /**
     * Binds every endpoint to vfio-pci, or none: on a failure the endpoints done so far go back to their drivers.
     * Everything is checked before the first write, because vfio-pci without an IOMMU fails its probe and leaves
     * the device on no driver at all.
     */
    @Override
    public void bind(List<Binding> bindings) throws PassthroughException {
        checkHost();
        for (Binding binding : bindings) {
            checkEndpoint(binding.address());
        }
        HostTransaction tx = new HostTransaction("binding " + addresses(bindings) + " to vfio-pci");
        for (Binding binding : bindings) {
            try {
                bindEndpoint(tx, binding.address());
            } catch (PassthroughException e) {
                throw tx.abort("binding " + binding.address(), e);
            }
        }
    }

    /**
     * Gives every endpoint back to the driver it had before, or none: on a failure halfway the endpoints done so
     * far go back to vfio-pci, so the zone keeps a whole group. An endpoint whose driver did not come back is
     * reported in the answer, not thrown: it is no longer on vfio-pci, and the ledger must say so.
     */
    @Override
    public List<Restoration> release(List<Binding> bindings) throws PassthroughException {
        HostTransaction tx = new HostTransaction("releasing " + addresses(bindings) + " from vfio-pci");
        for (Binding binding : bindings) {
            if (Files.isDirectory(inventory.deviceDir(binding.address()))) {
                try {
                    releaseEndpoint(tx, binding);
                } catch (PassthroughException e) {
                    throw tx.abort("releasing " + binding.address(), e);
                }
            }
        }
        List<Restoration> result = new ArrayList<>();
        for (Binding binding : bindings) {
            result.add(new Restoration(binding.address(), binding.originalDriver(), lastTry(binding)));
        }
        return result;
    }

    private void bindEndpoint(HostTransaction tx, PciAddress a) throws PassthroughException {
        Optional<String> driver = read(a, () -> inventory.currentDriver(a));
        if (driver.filter(VFIO::equals).isPresent()) {
            return;
        }
        Optional<String> override = read(a, () -> inventory.currentOverride(a));
        Path overrideFile = inventory.deviceDir(a).resolve("driver_override");
        if (!override.filter(VFIO::equals).isPresent()) {
            tx.step(a + ": driver_override=vfio-pci", () -> writer.write(overrideFile, VFIO),
                    a + ": driver_override=" + describe(override), () -> writer.write(overrideFile, value(override)));
        }
        if (driver.isPresent()) {
            String original = driver.get();
            tx.step(a + ": unbind from " + original, () -> writer.write(unbind(original), a.toString()),
                    a + ": rebind to " + original, () -> {
                        // The kernel refuses a bind that driver_override does not allow: restore it first.
                        writer.write(overrideFile, value(override));
                        if (inventory.currentDriver(a).isEmpty()) {
                            writer.write(inventory.driverDir(original).resolve("bind"), a.toString());
                        }
                    });
        }
        tx.step(a + ": drivers_probe", () -> writer.write(inventory.driversProbe(), a.toString()),
                a + ": unbind from vfio-pci", () -> {
                    if (inventory.currentDriver(a).filter(VFIO::equals).isPresent()) {
                        writer.write(unbind(VFIO), a.toString());
                    }
                });
        tx.step(a + ": check it is on vfio-pci", () -> {
            Optional<String> now = inventory.currentDriver(a);
            if (!now.filter(VFIO::equals).isPresent()) {
                throw new PassthroughException(a + " is on " + now.orElse("no driver") + " after drivers_probe, not "
                        + "on vfio-pci");
            }
        }, null, null);
    }

    private void releaseEndpoint(HostTransaction tx, Binding binding) throws PassthroughException {
        PciAddress a = binding.address();
        if (binding.originalDriver().filter(VFIO::equals).isPresent()) {
            return; // it was on vfio-pci before the zone took it, and stays there
        }
        Path overrideFile = inventory.deviceDir(a).resolve("driver_override");
        if (read(a, () -> inventory.currentDriver(a)).filter(VFIO::equals).isPresent()) {
            tx.step(a + ": unbind from vfio-pci", () -> writer.write(unbind(VFIO), a.toString()),
                    a + ": rebind to vfio-pci", () -> {
                        if (inventory.currentDriver(a).isEmpty()) {
                            writer.write(inventory.driverDir(VFIO).resolve("bind"), a.toString());
                        }
                    });
        }
        Optional<String> override = read(a, () -> inventory.currentOverride(a));
        Optional<String> original = binding.originalOverride();
        if (!override.equals(original)) {
            tx.step(a + ": driver_override=" + describe(original), () -> writer.write(overrideFile, value(original)),
                    a + ": driver_override=" + describe(override), () -> writer.write(overrideFile, value(override)));
        }
        if (binding.originalDriver().isPresent()) {
            String driver = binding.originalDriver().get();
            tx.step(a + ": drivers_probe for " + driver, () -> {
                if (inventory.currentDriver(a).isEmpty()) {
                    writer.write(inventory.driversProbe(), a.toString());
                }
            }, a + ": unbind from " + driver, () -> {
                Optional<String> now = inventory.currentDriver(a);
                if (now.isPresent() && !now.get().equals(VFIO)) {
                    writer.write(unbind(now.get()), a.toString());
                }
            });
        }
    }

    /** After a release, what the endpoint is on; one explicit bind when its driver did not come by itself. */
    private Optional<String> lastTry(Binding binding) throws PassthroughException {
        PciAddress a = binding.address();
        Optional<String> now = read(a, () -> inventory.currentDriver(a));
        Optional<String> want = binding.originalDriver();
        if (want.isPresent() && now.isEmpty() && Files.isDirectory(inventory.driverDir(want.get()))) {
            try {
                writer.write(inventory.driverDir(want.get()).resolve("bind"), a.toString());
            } catch (IOException e) {
                // reported through the answer: the endpoint is not on its driver
            }
            now = read(a, () -> inventory.currentDriver(a));
        }
        return now;
    }

    private void checkHost() throws PassthroughException {
        if (!inventory.iommuEnabled()) {
            throw new PassthroughException("the IOMMU is off (" + inventory.iommuGroupsDir() + " is empty): vfio-pci "
                    + "would fail its probe and leave the device with no driver; nothing was changed. Boot with "
                    + "intel_iommu=on (or amd_iommu=on) iommu=pt");
        }
        if (!Files.isDirectory(inventory.driverDir(VFIO))) {
            throw new PassthroughException("vfio-pci is not loaded (no " + inventory.driverDir(VFIO) + "); run "
                    + "modprobe vfio-pci; nothing was changed");
        }
    }

    private PciDevice checkEndpoint(PciAddress address) throws PassthroughException {
        PciDevice device = inventory.device(address);
        if (device.iommuGroup().isEmpty() || !Files.exists(inventory.deviceDir(address).resolve("iommu_group"))) {
            throw new PassthroughException(address + " has no IOMMU group: vfio-pci would fail its probe and leave "
                    + "it with no driver; nothing was changed");
        }
        if (device.isBridge()) {
            throw new PassthroughException(address + " is a PCI bridge; bridges are not bound to vfio-pci");
        }
        if (!Files.exists(inventory.deviceDir(address).resolve("driver_override"))) {
            throw new PassthroughException(address + " has no driver_override attribute; this kernel is too old "
                    + "for passthrough (4.8 or later is needed); nothing was changed");
        }
        return device;
    }

    private Path unbind(String driver) {
        return inventory.driverDir(driver).resolve("unbind");
    }

    /** The kernel clears driver_override on a write of a lone newline. */
    private static String value(Optional<String> override) {
        return override.orElse("\n");
    }

    private static String describe(Optional<String> override) {
        return override.orElse("(null)");
    }

    private static String addresses(List<Binding> bindings) {
        return bindings.stream().map(b -> b.address().toString()).collect(Collectors.joining(", "));
    }

    @FunctionalInterface
    private interface Read<T> {
        T get() throws IOException;
    }

    private static <T> T read(PciAddress a, Read<T> read) throws PassthroughException {
        try {
            return read.get();
        } catch (IOException e) {
            throw new PassthroughException("cannot read the state of " + a + ": " + e.getMessage(), e);
        }
    }
}
