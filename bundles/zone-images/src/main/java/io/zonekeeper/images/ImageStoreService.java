package io.zonekeeper.images;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Modified;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;

import io.zonekeeper.api.image.ImageException;
import io.zonekeeper.api.image.ImageInfo;
import io.zonekeeper.api.image.ImageStore;
import io.zonekeeper.api.image.ImageUsers;
import io.zonekeeper.spi.StateLocation;

/** The image store as a service, in {@code <state>/images}. */
@Component(service = ImageStore.class, configurationPid = ImageStoreService.PID, immediate = true)
@Designate(ocd = ImageStoreConfig.class)
public class ImageStoreService implements ImageStore {
    public static final String PID = "io.zonekeeper.images";
    private final List<ImageUsers> users = new CopyOnWriteArrayList<>();
    private volatile Images images;

    @Reference
    private StateLocation state;

    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    void addUsers(ImageUsers u) {
        users.add(u);
    }

    void removeUsers(ImageUsers u) {
        users.remove(u);
    }

    @Activate
    @Modified
    void configure(ImageStoreConfig config) {
        Path dir = state.folder("images");
        Images i = new Images(dir, config.tar2sqfsCommand(), config.compressor(), config.compressorOptions());
        i.sweep();
        images = i;
    }

    @Override
    public ImageInfo importImage(Path source, String tag) throws ImageException {
        return images.importImage(source, tag);
    }

    @Override
    public List<ImageInfo> list() {
        return images.list();
    }

    @Override
    public ImageInfo resolve(String ref) throws ImageException {
        return images.resolve(ref);
    }

    @Override
    public void remove(String ref) throws ImageException {
        images.remove(ref, users);
    }
}
