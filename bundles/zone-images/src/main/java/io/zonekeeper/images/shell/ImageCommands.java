package io.zonekeeper.images.shell;

import java.nio.file.Path;

import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Parameter;
import org.apache.felix.service.command.annotations.GogoCommand;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import io.zonekeeper.api.image.ImageException;
import io.zonekeeper.api.image.ImageInfo;
import io.zonekeeper.api.image.ImageStore;
import io.zonekeeper.images.ImageRecord;

/** The {@code image:} shell commands. Each failure says what was wrong and changes nothing. */
@Component(service = ImageCommands.class)
@GogoCommand(scope = "image", function = { "import", "list", "info", "remove" })
public class ImageCommands {
    @Reference
    ImageStore store;

    @Descriptor("Import an OCI image layout (directory or tar) or a docker save archive, offline; every blob is "
            + "checked against its digest, the layers are packed into a read-only squashfs image")
    public String _import(
            @Descriptor("the image to take from a source that holds several; also its name") @Parameter(names = "--tag", absentValue = "") String tag,
            @Descriptor("the OCI layout folder or tar, or the docker save tar") String source) throws ImageException {
        Path path = Path.of(source);
        if (!path.isAbsolute()) {
            // bin/zonekeeper -c hands the command to the running appliance, whose folder is not the caller's.
            throw new ImageException("give the image's absolute path ('" + source + "' is relative, and the appliance "
                    + "does not run in your folder)");
        }
        ImageInfo i = store.importImage(path, tag.isEmpty() ? null : tag);
        return "image " + i.shortId() + " " + String.join(",", i.names()) + " (" + i.id() + ", " + i.layers().size()
                + " layers, " + i.layerBytes() + " bytes of layers, " + i.format() + " " + i.rootfsBytes()
                + " bytes)";
    }

    @Descriptor("List the stored images")
    public String list(@Descriptor("print JSON") @Parameter(names = "--json", presentValue = "true", absentValue = "false") boolean json) {
        if (json) {
            return ImageRecord.toJson(store.list());
        }
        StringBuilder sb = new StringBuilder(String.format("%-12s %-30s %7s %12s %12s%n", "ID", "NAMES", "LAYERS",
                "LAYER BYTES", "ROOTFS BYTES"));
        for (ImageInfo i : store.list()) {
            sb.append(String.format("%-12s %-30s %7d %12d %12d%n", i.shortId(),
                    i.names().isEmpty() ? "-" : String.join(",", i.names()), i.layers().size(), i.layerBytes(),
                    i.rootfsBytes()));
        }
        return sb.toString();
    }

    @Descriptor("Show one image: its id, names, filesystem image and run config")
    public String info(@Descriptor("print JSON") @Parameter(names = "--json", presentValue = "true", absentValue = "false") boolean json,
            @Descriptor("name, id or id prefix (12+ hex digits)") String ref) throws ImageException {
        ImageInfo i = store.resolve(ref);
        if (json) {
            return ImageRecord.toJson(i).toString();
        }
        return "id:          " + i.id() + "\n"
                + "names:       " + String.join(", ", i.names()) + "\n"
                + "platform:    " + i.os() + "/" + i.architecture() + "\n"
                + "rootfs:      " + i.rootfs() + " (" + i.format() + ", " + i.rootfsBytes() + " bytes)\n"
                + "layers:      " + i.layers().size() + " (" + i.layerBytes() + " bytes)\n"
                + "entrypoint:  " + i.config().entrypoint() + "\n"
                + "cmd:         " + i.config().cmd() + "\n"
                + "env:         " + i.config().env() + "\n"
                + "workingDir:  " + i.config().workingDir() + "\n"
                + "user:        " + i.config().user() + "\n"
                + "imported:    " + i.imported() + "\n";
    }

    @Descriptor("Remove an image; refused while a zone uses it")
    public String remove(@Descriptor("name, id or id prefix (12+ hex digits)") String ref) throws ImageException {
        ImageInfo i = store.resolve(ref);
        store.remove(i.id());
        return "image " + i.shortId() + " removed";
    }
}
