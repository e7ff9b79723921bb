package io.zonekeeper.observe;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.metatype.annotations.Designate;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * Serves the Prometheus text at {@code http://HOST:PORT/metrics}, only when {@code io.zonekeeper.observe} names an
 * {@code httpAddress}: without that configuration this component does not exist and nothing listens. Plain HTTP, no
 * credential: bind it to an address only the scraper reaches.
 */
@Component(service = {}, configurationPid = "io.zonekeeper.observe", configurationPolicy = ConfigurationPolicy.REQUIRE)
@Designate(ocd = ObserveConfig.class)
public class MetricsHttp {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.observe");

    @Reference
    private MetricsCollector collector;
    private HttpServer server;

    @Activate
    void activate(ObserveConfig config) throws IOException {
        if (config.httpAddress().isBlank()) {
            return;
        }
        server = start(parse(config.httpAddress()), collector);
        LOG.log(Level.INFO, "Prometheus metrics at http://" + config.httpAddress() + "/metrics");
    }

    @Deactivate
    void deactivate() {
        if (server != null) {
            server.stop(0);
        }
    }

    /** HOST:PORT, with a clear error for anything else. */
    static InetSocketAddress parse(String address) {
        int colon = address.lastIndexOf(':');
        int port;
        try {
            port = Integer.parseInt(address.substring(colon + 1));
        } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
            port = -1;
        }
        if (colon <= 0 || port < 0 || port > 65535) {
            throw new IllegalArgumentException("httpAddress must be HOST:PORT (127.0.0.1:9464), not '" + address + "'");
        }
        String host = address.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        return new InetSocketAddress(host, port);
    }

    static HttpServer start(InetSocketAddress at, MetricsCollector collector) throws IOException {
        HttpServer s = HttpServer.create(at, 4);
        s.createContext("/metrics", ex -> answer(ex, collector));
        s.start();
        return s;
    }

    private static void answer(HttpExchange ex, MetricsCollector collector) throws IOException {
        try (ex) {
            if (!"GET".equals(ex.getRequestMethod()) || !"/metrics".equals(ex.getRequestURI().getPath())) {
                byte[] no = "only GET /metrics\n".getBytes(StandardCharsets.UTF_8);
                ex.sendResponseHeaders(404, no.length);
                ex.getResponseBody().write(no);
                return;
            }
            byte[] body = PrometheusText.of(collector.sampleAll()).getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", PrometheusText.CONTENT_TYPE);
            ex.sendResponseHeaders(200, body.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }
}
