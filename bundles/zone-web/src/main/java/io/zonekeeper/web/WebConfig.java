package io.zonekeeper.web;

import org.osgi.service.metatype.annotations.AttributeDefinition;
import org.osgi.service.metatype.annotations.ObjectClassDefinition;

/** Configuration {@code io.zonekeeper.web} (etc/io.zonekeeper.web.cfg): where the console listens and who gets in. */
@ObjectClassDefinition(name = "Zonekeeper web console")
public @interface WebConfig {
    @AttributeDefinition(description = "the password's hash, pbkdf2-sha256:ITERATIONS:SALT:HASH (salt and hash in"
            + " base64); there is no default, and without one the console does not start")
    String passwordHash() default "";

    @AttributeDefinition(description = "the address to listen on; 127.0.0.1 unless the operator names another")
    String bindAddress() default "127.0.0.1";

    @AttributeDefinition(description = "the TCP port")
    int port() default 8180;

    @AttributeDefinition(description = "minutes a session lasts without a request")
    int sessionMinutes() default 30;
}
