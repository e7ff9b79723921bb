package io.zonekeeper.passthrough.shell;

import java.util.ArrayList;
import java.util.List;

import org.apache.felix.service.command.annotations.GogoCommand;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import io.zonekeeper.api.ZoneException;
import io.zonekeeper.passthrough.Assignment;
import io.zonekeeper.passthrough.DeviceAssignments;
import io.zonekeeper.passthrough.PciDeviceBackend;
import io.zonekeeper.passthrough.bind.Restoration;
import io.zonekeeper.passthrough.pci.PciAddress;
import io.zonekeeper.passthrough.pci.PciDevice;
import io.zonekeeper.passthrough.pci.PciInventory;

/**
 * {@code device:list [--json] [BDF...]}: the host's PCI devices, their IOMMU groups, which zone holds each, and
 * whether each could be given to a zone and why not; it changes nothing. {@code device:assign ZONE BDF...} and
 * {@code device:release ZONE}: holding devices for a zone by hand and giving them back, for operators (a zone's
 * start and stop do the same by themselves).
 */
@Component(service = DeviceCommands.class)
@GogoCommand(scope = "device", function = {"list", "assign", "release"})
public class DeviceCommands {
    private static final String LIST_USAGE = "usage: device:list [--json] [BDF...]";
    private static final String ASSIGN_USAGE = "usage: device:assign ZONE BDF [BDF...]";
    private static final String RELEASE_USAGE = "usage: device:release ZONE";

    @Reference
    private PciDeviceBackend backend;

    public DeviceCommands() {
    }

    /** For tests: a backend on a fixture tree, no framework. */
    public DeviceCommands(PciDeviceBackend backend) {
        this.backend = backend;
    }

    /** Gogo: {@code device:list}, {@code device:list --json}, {@code device:list 0000:01:00.0}. */
    public String list(String... args) throws ZoneException {
        boolean json = false;
        List<PciAddress> wanted = new ArrayList<>();
        for (String arg : args) {
            if (arg.equals("--json")) {
                json = true;
            } else if (arg.startsWith("-")) {
                throw new IllegalArgumentException("unknown option " + arg + "; " + LIST_USAGE);
            } else {
                wanted.add(PciAddress.parse(arg));
            }
        }
        DeviceAssignments host = backend.host();
        PciInventory inventory = host.inventory();
        List<PciDevice> devices;
        if (wanted.isEmpty()) {
            devices = inventory.devices();
        } else {
            devices = new ArrayList<>();
            for (PciAddress address : wanted) {
                devices.add(inventory.device(address));
            }
        }
        boolean available = host.viability().isolation().unavailable().isEmpty();
        List<DeviceTable.Row> rows = DeviceTable.rows(devices, host.viability(), host.ledger()::owner);
        return json ? DeviceTable.json(rows, available) : DeviceTable.text(rows, available);
    }

    /** Gogo: {@code device:assign gpu-a 0000:01:00.0 0000:01:00.1}. */
    public String assign(String... args) throws ZoneException {
        List<String> operands = operands(args, ASSIGN_USAGE);
        if (operands.size() < 2) {
            throw new IllegalArgumentException(ASSIGN_USAGE);
        }
        List<PciAddress> devices = new ArrayList<>();
        for (String bdf : operands.subList(1, operands.size())) {
            devices.add(PciAddress.parse(bdf));
        }
        List<Assignment> taken = backend.assignByHand(operands.get(0), devices);
        StringBuilder out = new StringBuilder();
        for (Assignment a : taken) {
            out.append(a.address()).append(" held for zone ").append(a.zone().name()).append(" (was on ")
                    .append(a.binding().originalDriver().orElse("no driver")).append(")\n");
        }
        return out.toString();
    }

    /** Gogo: {@code device:release gpu-a}. */
    public String release(String... args) throws ZoneException {
        List<String> operands = operands(args, RELEASE_USAGE);
        if (operands.size() != 1) {
            throw new IllegalArgumentException(RELEASE_USAGE);
        }
        StringBuilder out = new StringBuilder();
        boolean all = true;
        for (Restoration r : backend.releaseByHand(operands.get(0))) {
            out.append(r).append('\n');
            all &= r.restored();
        }
        if (!all) {
            throw new ZoneException(out.toString().strip());
        }
        return out.toString();
    }

    private static List<String> operands(String[] args, String usage) {
        List<String> operands = new ArrayList<>();
        for (String arg : args) {
            if (arg.startsWith("-")) {
                throw new IllegalArgumentException("unknown option " + arg + "; " + usage);
            }
            operands.add(arg);
        }
        return operands;
    }
}
