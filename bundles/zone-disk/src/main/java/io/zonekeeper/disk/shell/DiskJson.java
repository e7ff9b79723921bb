package io.zonekeeper.disk.shell;

import java.util.List;

import io.zonekeeper.disk.DiskImage;
import io.zonekeeper.disk.DiskLock;
import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObjectBuilder;

/** The {@code --json} form of disk images, for scripts: {@code holder} is null when no zone holds the disk. */
final class DiskJson {
    private DiskJson() {
    }

    /** {@code disk:list --json}: an array of disks. */
    static String list(List<DiskImage> disks) {
        JsonArrayBuilder a = Json.createArrayBuilder();
        for (DiskImage d : disks) {
            JsonObjectBuilder o = Json.createObjectBuilder().add("name", d.name()).add("path", d.path().toString())
                    .add("format", d.format()).add("bytes", d.bytes());
            DiskLock lock = d.lock();
            if (lock == null) {
                o.addNull("holder");
            } else {
                o.add("holder", Json.createObjectBuilder().add("zone", lock.zone())
                        .add("zoneId", lock.zoneId().toString()).add("since", lock.since().toString()));
            }
            a.add(o);
        }
        return a.build().toString();
    }
}
