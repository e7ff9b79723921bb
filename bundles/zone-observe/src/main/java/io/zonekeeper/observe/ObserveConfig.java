package io.zonekeeper.observe;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration {@code io.zonekeeper.observe}: where, if anywhere, Prometheus may scrape over HTTP. */
@ObjectClassDefinition(name = "Zonekeeper observe")
public @interface ObserveConfig {
    @AttributeDefinition(description = "HOST:PORT to serve the Prometheus text at /metrics over HTTP (127.0.0.1:9464,"
            + " say); empty: no network listener, the text is only on the control socket (zone:metrics)")
    String httpAddress() default "";
}
