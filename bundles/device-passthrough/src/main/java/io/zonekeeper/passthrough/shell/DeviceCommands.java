package io.zonekeeper.passthrough.shell;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.metatype.annotations.Designate;

import io.zonekeeper.passthrough.DeviceAssignments;
import io.zonekeeper.passthrough.PassthroughException;
import io.zonekeeper.passthrough.pci.PciAddress;
import io.zonekeeper.passthrough.pci.PciDevice;
import io.zonekeeper.passthrough.pci.PciInventory;
import io.zonekeeper.passthrough.vfio.FileSysfsWriter;

/**
 * {@code device:list [--json] [BDF...]}: the host's PCI devices, their IOMMU groups, and whether each could be
 * given to a zone and why not. Reads only: it changes nothing on the host or in the state directory.
 */
@Component(service = DeviceCommands.class, configurationPid = DeviceCommands.PID)
@Designate(ocd = PassthroughConfig.class)
@GogoCommand(scope = "device", function = {"list"})
public class DeviceCommands {
    public static final String PID = "io.zonekeeper.passthrough";
    /** The framework property naming the state directory. */
    public static final String STATE_PROPERTY = "zonekeeper.state";
    public static final String DEFAULT_STATE = "/var/lib/zonekeeper";
    private static final String USAGE = "usage: device:list [--json] [BDF...]";

    private Path sysfsRoot;
    private Path stateDirectory;
    private DeviceAssignments assignments;

    public DeviceCommands() {
    }

    /** For tests: a fixture tree and a temporary state directory, no framework. */
    DeviceCommands(Path sysfsRoot, Path stateDirectory) {
        this.sysfsRoot = sysfsRoot;
        this.stateDirectory = stateDirectory;
    }

    @Activate
    void activate(BundleContext context, PassthroughConfig config) {
        String root = config.sysfsRoot() == null || config.sysfsRoot().isBlank() ? "/sys" : config.sysfsRoot().trim();
        this.sysfsRoot = Path.of(root);
        String state = context.getProperty(STATE_PROPERTY);
        this.stateDirectory = Path.of(state == null || state.isBlank() ? DEFAULT_STATE : state.trim());
    }

    /** Gogo: {@code device:list}, {@code device:list --json}, {@code device:list 0000:01:00.0}. */
    public String list(String... args) throws PassthroughException {
        boolean json = false;
        List<PciAddress> wanted = new ArrayList<>();
        for (String arg : args) {
            if (arg.equals("--json")) {
                json = true;
            } else if (arg.startsWith("-")) {
                throw new IllegalArgumentException("unknown option " + arg + "; " + USAGE);
            } else {
                wanted.add(PciAddress.parse(arg));
            }
        }
        DeviceAssignments host = assignments();
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
        List<DeviceTable.Row> rows = DeviceTable.rows(devices, host.viability(), host.ledger()::owner);
        return json ? DeviceTable.json(rows, inventory.iommuEnabled())
                : DeviceTable.text(rows, inventory.iommuEnabled());
    }

    /** Opened on first use, so that an unreadable ledger is reported by the command that needs it. */
    private synchronized DeviceAssignments assignments() throws PassthroughException {
        if (assignments == null) {
            if (!sysfsRoot.isAbsolute()) {
                throw new PassthroughException("sysfsRoot must be an absolute path, not '" + sysfsRoot + "'; set it "
                        + "in the configuration " + PID);
            }
            assignments = DeviceAssignments.open(new PciInventory(sysfsRoot), new FileSysfsWriter(), stateDirectory);
        }
        return assignments;
    }
}
