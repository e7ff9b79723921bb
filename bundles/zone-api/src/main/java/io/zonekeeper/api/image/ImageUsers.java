package io.zonekeeper.api.image;

import java.util.List;

import org.osgi.annotation.versioning.ConsumerType;

/**
 * Asked by the image store before it removes an image: a service that knows zones (zone-core, or the image store's
 * own view of zone labels) names those that use it. The store refuses the removal when any service names a zone.
 */
@ConsumerType
public interface ImageUsers {
    /** The names of the zones that use {@code image}; empty when none does. */
    List<String> zonesUsing(ImageInfo image);
}
