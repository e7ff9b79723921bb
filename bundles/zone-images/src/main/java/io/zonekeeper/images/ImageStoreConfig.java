package io.zonekeeper.images;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

@ObjectClassDefinition(name = "Zonekeeper image store", description = "Where tar2sqfs is and how it compresses")
public @interface ImageStoreConfig {
    @AttributeDefinition(description = "The tar2sqfs program (squashfs-tools-ng)")
    String tar2sqfsCommand() default "tar2sqfs";

    @AttributeDefinition(description = "squashfs compressor: zstd (measured best here, see README), gzip, xz or lz4")
    String compressor() default "zstd";

    @AttributeDefinition(description = "tar2sqfs --comp-extra for the compressor; empty: level=3 for zstd (README), "
            + "tar2sqfs's defaults for the others")
    String compressorOptions() default "";
}
