package io.zonekeeper.passthrough.xen;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.stream.Collectors;

import io.zonekeeper.passthrough.PassthroughException;
import io.zonekeeper.passthrough.bind.Binding;
import io.zonekeeper.passthrough.bind.DeviceBinder;
import io.zonekeeper.passthrough.bind.HostTransaction;
import io.zonekeeper.passthrough.bind.Restoration;
import io.zonekeeper.passthrough.bind.SysfsWriter;
import io.zonekeeper.passthrough.pci.Isolation;
import io.zonekeeper.passthrough.pci.PciAddress;
import io.zonekeeper.passthrough.pci.PciDevice;
import io.zonekeeper.passthrough.pci.PciInventory;

/**
 * Passthrough on a Xen dom0: the toolstack's own commands move a device to xen-pciback and back.
 * {@code xl pci-assignable-add BDF} unbinds it from its driver, keeps that driver's path in xenstore and binds it to
 * pciback; {@code xl pci-assignable-remove -r BDF} unbinds it and rebinds it to that driver. Both are idempotent.
 *
 * <p>dom0 sees no IOMMU groups (Xen owns the IOMMU), so a zone takes the functions of one device together, and
 * whether the IOMMU is on is read from {@code xl info}: its {@code virt_caps} say {@code hvm_directio} or
 * {@code pv_directio} when it is.
 */
public final class XenPciback implements DeviceBinder, Isolation {
    /** The name xen-pciback registers its PCI driver under. */
    public static final String PCIBACK = "pciback";

    private final PciInventory inventory;
    private final CommandRunner runner;
    private final String xl;
    private final SysfsWriter writer;
    /** Xen's answer once it gave one: its IOMMU is set up at boot and does not change while it runs. */
    private volatile Optional<String> iommuAnswer;

    /**
     * @param xl     the xl binary
     * @param writer for the last resort of a release: binding the original driver through sysfs when xl did not
     */
    public XenPciback(PciInventory inventory, CommandRunner runner, String xl, SysfsWriter writer) {
        this.inventory = inventory;
        this.runner = runner;
        this.xl = xl;
        this.writer = writer;
    }

    /** True on a Xen dom0: {@code /proc/xen/capabilities} says {@code control_d}. */
    public static boolean isDom0(Path capabilities) {
        try {
            return Files.readString(capabilities, StandardCharsets.US_ASCII).contains("control_d");
        } catch (IOException e) {
            return false;
        }
    }

    // ---- Isolation ----

    @Override
    public Optional<String> unavailable() {
        Optional<String> known = iommuAnswer;
        if (known != null) {
            return known;
        }
        CommandRunner.Result info;
        try {
            info = runner.run(List.of(xl, "info"));
        } catch (IOException e) {
            return Optional.of("cannot ask Xen whether its IOMMU is on: " + e.getMessage());
        }
        if (!info.ok()) {
            return Optional.of("cannot ask Xen whether its IOMMU is on: xl info failed: " + lastLine(info.output()));
        }
        String caps = info.output().lines().filter(l -> l.startsWith("virt_caps")).findFirst()
                .map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("");
        iommuAnswer = caps.contains("directio") ? Optional.empty()
                : Optional.of("Xen's IOMMU is off (xl info: virt_caps " + (caps.isEmpty() ? "not shown" : caps)
                        + "); enable VT-d or AMD-Vi in the firmware and boot Xen with iommu=1");
        return iommuAnswer;
    }

    @Override
    public Optional<Unit> unitOf(PciDevice device) throws PassthroughException {
        List<PciDevice> functions = new ArrayList<>();
        for (PciDevice d : inventory.devices()) {
            if (d.address().sameSlot(device.address())) {
                functions.add(d);
            }
        }
        return Optional.of(new Unit("device " + device.address().slot(), OptionalInt.empty(), functions));
    }

    @Override
    public String passthroughDriver() {
        return PCIBACK;
    }

    @Override
    public Set<String> dmaFreeDrivers() {
        return Set.of(PCIBACK, "pci-stub");
    }

    // ---- DeviceBinder ----

    @Override
    public List<Binding> prepare(List<PciAddress> endpoints) throws PassthroughException {
        checkHost();
        List<Binding> bindings = new ArrayList<>();
        for (PciAddress address : endpoints) {
            PciDevice device = inventory.device(address);
            if (device.isBridge()) {
                throw new PassthroughException(address + " is a PCI bridge; bridges are not given to pciback");
            }
            bindings.add(new Binding(address, device.driver(), device.driverOverride()));
        }
        return bindings;
    }

    @Override
    public void bind(List<Binding> bindings) throws PassthroughException {
        checkHost();
        HostTransaction tx = new HostTransaction("making " + addresses(bindings) + " assignable to Xen guests");
        for (Binding binding : bindings) {
            PciAddress a = binding.address();
            if (driverOf(a).filter(PCIBACK::equals).isPresent()) {
                continue;
            }
            tx.step(xl + " pci-assignable-add " + a, () -> xl("pci-assignable-add", a.toString()),
                    xl + " pci-assignable-remove -r " + a, () -> xl("pci-assignable-remove", "-r", a.toString()));
            tx.step(a + ": check it is on pciback", () -> {
                Optional<String> now = inventory.currentDriver(a);
                if (!now.filter(PCIBACK::equals).isPresent()) {
                    throw new PassthroughException(a + " is on " + now.orElse("no driver") + " after xl "
                            + "pci-assignable-add, not on pciback");
                }
            }, null, null);
        }
    }

    @Override
    public List<Restoration> release(List<Binding> bindings) throws PassthroughException {
        HostTransaction tx = new HostTransaction("giving " + addresses(bindings) + " back from pciback");
        for (Binding binding : bindings) {
            PciAddress a = binding.address();
            if (binding.originalDriver().filter(PCIBACK::equals).isPresent()
                    || !Files.isDirectory(inventory.deviceDir(a))) {
                continue; // it was on pciback before the zone took it, or it is gone
            }
            if (driverOf(a).filter(PCIBACK::equals).isPresent()) {
                tx.step(xl + " pci-assignable-remove -r " + a, () -> xl("pci-assignable-remove", "-r", a.toString()),
                        xl + " pci-assignable-add " + a, () -> xl("pci-assignable-add", a.toString()));
            }
        }
        List<Restoration> result = new ArrayList<>();
        for (Binding binding : bindings) {
            result.add(new Restoration(binding.address(), binding.originalDriver(), lastTry(binding)));
        }
        return result;
    }

    /** xl rebinds the driver it kept in xenstore; one explicit bind when it had none (taken by another tool). */
    private Optional<String> lastTry(Binding binding) throws PassthroughException {
        PciAddress a = binding.address();
        if (!Files.isDirectory(inventory.deviceDir(a))) {
            return Optional.empty();
        }
        Optional<String> now = driverOf(a);
        Optional<String> want = binding.originalDriver();
        if (want.isPresent() && now.isEmpty() && Files.isDirectory(inventory.driverDir(want.get()))) {
            try {
                writer.write(inventory.driverDir(want.get()).resolve("bind"), a.toString());
            } catch (IOException e) {
                // reported through the answer: the endpoint is not on its driver
            }
            now = driverOf(a);
        }
        return now;
    }

    private void checkHost() throws PassthroughException {
        Optional<String> off = unavailable();
        if (off.isPresent()) {
            throw new PassthroughException(off.get() + "; nothing was changed");
        }
        if (!Files.isDirectory(inventory.driverDir(PCIBACK))) {
            throw new PassthroughException("xen-pciback is not loaded (no " + inventory.driverDir(PCIBACK) + "); run "
                    + "modprobe xen-pciback; nothing was changed");
        }
    }

    private void xl(String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add(xl);
        command.addAll(List.of(args));
        CommandRunner.Result r = runner.run(command);
        if (!r.ok()) {
            throw new IOException(String.join(" ", command) + " exited with " + r.exitCode() + ": "
                    + lastLine(r.output()));
        }
    }

    private Optional<String> driverOf(PciAddress a) throws PassthroughException {
        try {
            return inventory.currentDriver(a);
        } catch (IOException e) {
            throw new PassthroughException("cannot read the state of " + a + ": " + e.getMessage(), e);
        }
    }

    private static String lastLine(String output) {
        List<String> lines = output.strip().lines().toList();
        return lines.isEmpty() ? "no output" : lines.get(lines.size() - 1);
    }

    private static String addresses(List<Binding> bindings) {
        return bindings.stream().map(b -> b.address().toString()).collect(Collectors.joining(", "));
    }
}
