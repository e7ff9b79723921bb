package io.zonekeeper.disk;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.spi.PreparedResources;
import io.zonekeeper.spi.ResourceKind;
import io.zonekeeper.spi.StateLocation;
import io.zonekeeper.spi.ZoneResourceProvider;

/** The disks of this appliance as a zone resource provider for zone-core, and as a service for the shell. */
@Component(service = { ZoneResourceProvider.class, DiskProvider.class }, configurationPid = DiskProvider.PID,
        immediate = true)
@Designate(ocd = DiskConfig.class)
public class DiskProvider implements ZoneResourceProvider {
    public static final String PID = "io.zonekeeper.disk";
    private volatile Disks disks;

    @Reference
    private StateLocation state;

    @Activate
    @Modified
    void configure(DiskConfig config) {
        Path dir = state.directory();
        List<Path> allowed = Arrays.stream(config.allowedFolders()).filter(s -> !s.isBlank()).map(String::trim)
                .map(Path::of).toList();
        disks = new Disks(dir, allowed, config.mke2fsCommand(), config.qemuImgCommand());
    }

    public Disks disks() {
        return disks;
    }

    @Override
    public ResourceKind kind() {
        return ResourceKind.DISK;
    }

    @Override
    public PreparedResources prepare(UUID id, ZoneSpec spec) throws ZoneException {
        return disks.prepare(id, spec);
    }

    @Override
    public void release(UUID id, String zoneName) {
        disks.release(id);
    }

    @Override
    public List<String> orphans(Set<UUID> activeZones) {
        return disks.orphans(activeZones);
    }
}
