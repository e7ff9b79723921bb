/**
 * The image store: container images (OCI image layouts and {@code docker save} archives) imported offline, checked
 * against their digests, and packed into one read-only filesystem image per image config digest, with the config
 * fields a zone's init needs. {@link io.zonekeeper.api.image.ImageStore} is the service; a bundle that knows which
 * zones use an image says so through {@link io.zonekeeper.api.image.ImageUsers}.
 */
@Export
@Version("1.0.0")
package io.zonekeeper.api.image;

import org.osgi.annotation.bundle.Export;
import org.osgi.annotation.versioning.Version;
