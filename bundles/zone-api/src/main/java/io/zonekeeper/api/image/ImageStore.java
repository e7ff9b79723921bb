package io.zonekeeper.api.image;

import java.nio.file.Path;
import java.util.List;

import org.osgi.annotation.versioning.ProviderType;

/**
 * The images of this appliance. Every method either does all it says or changes nothing and throws an
 * {@link ImageException} whose message names what was wrong.
 *
 * <p>A reference ({@code REF}) is a name given at import (a tag), the image id ({@code sha256:} and the 64 hex
 * digits of the config digest), or an unambiguous prefix of those hex digits of at least 12 characters.
 */
@ProviderType
public interface ImageStore {
    /**
     * Was the zone label that named the image a zone runs, before the zone spec had its {@code image} field. Nothing
     * reads it now: a zone holds its image through {@link io.zonekeeper.api.ZoneSpec#image()}.
     */
    @Deprecated
    String ZONE_LABEL = "io.zonekeeper.image";

    /**
     * Imports an OCI image layout (a directory or a tar of one) or a {@code docker save} archive, read offline.
     *
     * @param tag the name the image gets, and which image to take when the source holds several (an OCI index's
     *            {@code org.opencontainers.image.ref.name}, or one of a docker archive's {@code RepoTags}). Null to
     *            take the only image of the source, under the names it carries.
     * @return the image as stored; an image already stored with the same config digest is reused, and gains the name
     */
    ImageInfo importImage(Path source, String tag) throws ImageException;

    /** The stored images, ordered by their first name, then id. */
    List<ImageInfo> list();

    /** The image a reference names; throws when none does or when a prefix names several. */
    ImageInfo resolve(String ref) throws ImageException;

    /** Removes an image and its filesystem image; refused while a zone uses it ({@link ImageUsers}). */
    void remove(String ref) throws ImageException;
}
