package io.zonekeeper.disk;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(name = "Zonekeeper disks", description = "Where disk images may live besides "
        + "the disks/ folder of the state directory (zone-core's StateLocation), and which tools make them")
public @interface DiskConfig {
    @AttributeDefinition(description = "Folders besides <state>/disks whose images zones may use (judged by real "
            + "path: a symlink out of them is refused)")
    String[] allowedFolders() default {};

    @AttributeDefinition(description = "The e2fsprogs mke2fs command")
    String mke2fsCommand() default "mke2fs";

    @AttributeDefinition(description = "The qemu-img command, for qcow2 images")
    String qemuImgCommand() default "qemu-img";
}
