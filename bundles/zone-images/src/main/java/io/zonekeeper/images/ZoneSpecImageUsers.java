package io.zonekeeper.images;

import java.util.List;

import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.image.ImageInfo;
import io.zonekeeper.api.image.ImageUsers;

/**
 * The zones whose spec's {@code image} field names an image (by name, id or id prefix, as the zone was created
 * with): such a zone holds its image, which {@code image:remove} then refuses to remove.
 */
@Component(service = ImageUsers.class)
public class ZoneSpecImageUsers implements ImageUsers {
    @Reference(cardinality = ReferenceCardinality.OPTIONAL, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile ZoneManager zones;

    @Override
    public List<String> zonesUsing(ImageInfo image) {
        ZoneManager z = zones;
        return z == null ? List.of() : using(z.list(), image);
    }

    static List<String> using(List<ZoneInfo> zones, ImageInfo image) {
        return zones.stream().filter(z -> names(z.spec().image(), image))
                .map(ZoneInfo::name).sorted().toList();
    }

    private static boolean names(String ref, ImageInfo image) {
        if (ref == null || ref.isBlank()) {
            return false;
        }
        String hex = image.id().substring(7);
        String r = ref.startsWith("sha256:") ? ref.substring(7) : ref;
        return image.names().contains(ref) || (r.length() >= 12 && hex.startsWith(r));
    }
}
