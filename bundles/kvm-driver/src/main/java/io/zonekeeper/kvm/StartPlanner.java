package io.zonekeeper.kvm;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.function.Supplier;

import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.api.image.ImageException;
import io.zonekeeper.api.image.ImageInfo;
import io.zonekeeper.api.image.ImageStore;
import io.zonekeeper.image.ImageFiles;
import io.zonekeeper.image.ImageWorkload;
import io.zonekeeper.kvm.image.ImageRoot;
import io.zonekeeper.image.BootFolders;
import io.zonekeeper.kvm.accel.AccelVerdict;
import io.zonekeeper.kvm.image.ZoneImages;
import io.zonekeeper.kvm.image.ZoneImages.BootImage;
import io.zonekeeper.kvm.qemu.HostInfo;
import io.zonekeeper.kvm.qemu.Machine;
import io.zonekeeper.kvm.qemu.QemuCommandLine;
import io.zonekeeper.kvm.qemu.QemuDevices;
import io.zonekeeper.kvm.qemu.StartChecks;
import io.zonekeeper.kvm.qemu.ZoneFiles;
import io.zonekeeper.spi.DriverException;
import io.zonekeeper.spi.PreparedResources;

/**
 * Makes the {@link StartPlan} of one start in one pass, in the order that spends least on a zone that cannot run:
 * every check that needs no image (the spec, what the appliance prepared, socket paths, the host), the machine, the
 * boot image, every check of that image, the accelerator (the probe boot runs here once per kernel), and then the
 * command line. Each check runs once, and a refusal names every field it found, in one message.
 */
final class StartPlanner {
    /** The boot image for a spec: built from its kernel, or the default one, and cached. */
    interface Images {
        BootImage of(ZoneSpec spec) throws DriverException;
    }

    /** The accelerator a boot image gets. */
    interface Accelerators {
        AccelVerdict of(BootImage image) throws DriverException;
    }

    private final String qemuBinary;
    private final Machine floor;
    private final Images images;
    private final Accelerators accelerators;
    private final Supplier<HostInfo.Facts> host;
    private final Supplier<ImageStore> imageStore;

    /** @param floor the least machine every zone gets; devices that need more raise it per zone */
    StartPlanner(String qemuBinary, Machine floor, Images images, Accelerators accelerators,
            Supplier<HostInfo.Facts> host) {
        this(qemuBinary, floor, images, accelerators, host, () -> null);
    }

    /** @param imageStore the image store for image zones, or a supplier of null when zone-images is not running */
    StartPlanner(String qemuBinary, Machine floor, Images images, Accelerators accelerators,
            Supplier<HostInfo.Facts> host, Supplier<ImageStore> imageStore) {
        this.imageStore = imageStore;
        this.qemuBinary = qemuBinary;
        this.floor = floor;
        this.images = images;
        this.accelerators = accelerators;
        this.host = host;
    }

    StartPlan plan(UUID id, String name, ZoneSpec spec, Path directory, PreparedResources res)
            throws DriverException {
        ZoneFiles files = new ZoneFiles(directory);
        HostInfo.Facts facts = host.get();
        StartChecks.refuseUnlessEmpty(spec, StartChecks.beforeImage(spec, res, files, facts));
        Machine machine = QemuDevices.machineFor(res, floor);
        BootImage image = images.of(spec);
        StartChecks.refuseUnlessEmpty(spec, StartChecks.ofImage(spec, res, image, machine));
        String accel = accelerators.of(image).accel();
        ImageRoot root = spec.image() == null ? null : imageRoot(spec, files);
        List<String> argv = new QemuCommandLine(qemuBinary, accel, facts.tscKhz())
                .render(id, name, spec, files, image, res, machine, root);
        return new StartPlan(id, name, spec, res, files, image, machine, QemuDevices.why(res, floor, machine), accel,
                argv);
    }

    /**
     * The image zone's root: the image as the store has it now, and its workload (the image's config with the spec's
     * over it) written to the zone's folder, where QEMU opens it as a read-only disk.
     */
    private ImageRoot imageRoot(ZoneSpec spec, ZoneFiles files) throws DriverException {
        ImageStore store = imageStore.get();
        if (store == null) {
            throw new DriverException("zone " + spec.name() + " runs image " + spec.image() + ", but no image store"
                    + " is running: the zone-images bundle provides it");
        }
        try {
            ImageInfo info = store.resolve(spec.image());
            byte[] workload = ImageWorkload.merge(info.config(), spec.workload()).encode();
            ImageFiles.writeAtomically(files.workloadFile(), out -> out.write(workload));
            return new ImageRoot(info.rootfs(), files.workloadFile());
        } catch (ImageException | IllegalArgumentException e) {
            throw new DriverException("zone " + spec.name() + ": image " + spec.image() + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new DriverException("zone " + spec.name() + ": cannot write " + files.workloadFile() + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * Boot images from {@code images}: the spec's own kernel and initramfs, each confined to {@code folders} by its
     * real path, else {@code defaultKernel} (the operator's, from the configuration).
     */
    static Images from(ZoneImages images, String defaultKernel, BootFolders folders) {
        return spec -> {
            try {
                Path kernel = spec.kernel() != null ? folders.confine("kernel", spec.kernel())
                        : defaultKernel == null ? null : Path.of(defaultKernel);
                Path initramfs = spec.initramfs() == null ? null : folders.confine("initramfs", spec.initramfs());
                return images.image(kernel, initramfs);
            } catch (IOException e) {
                throw new DriverException("zone image for " + spec.name() + ": " + e.getMessage(), e);
            }
        };
    }
}
