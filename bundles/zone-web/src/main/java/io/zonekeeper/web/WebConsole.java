package io.zonekeeper.web;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.StringReader;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.osgi.framework.ServiceReference;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.ConfigurationPolicy;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;
import org.osgi.service.metatype.annotations.Designate;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import io.zonekeeper.api.ZoneException;
import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.metrics.ZoneMetric;
import io.zonekeeper.api.metrics.ZoneMetricsSource;
import io.zonekeeper.hostio.FileTail;
import io.zonekeeper.hostio.GuestText;
import io.zonekeeper.spi.HypervisorDriver;
import io.zonekeeper.spi.StateLocation;
import jakarta.json.Json;
import jakarta.json.JsonArrayBuilder;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;

/**
 * The web console: a few static pages and read-only JSON, on the JDK's own HTTP server, behind the operator's
 * password. It exists only where the zonekeeper-web feature installs this bundle, and listens only where
 * etc/io.zonekeeper.web.cfg sets a passwordHash; without one it logs why and opens no port.
 */
@Component(immediate = true, service = {}, configurationPid = "io.zonekeeper.web",
        configurationPolicy = ConfigurationPolicy.OPTIONAL)
@Designate(ocd = WebConfig.class)
public class WebConsole {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.web");
    static final String COOKIE = "zk_session";
    /** What the console pane shows: the end of the console log. */
    static final int CONSOLE_TAIL = 32 * 1024;
    /** What the logs page shows, as zone:logs does at most. */
    static final int LOGS_TAIL = 1024 * 1024;
    private static final int FORM_LIMIT = 4096;
    private static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
            + " img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
    private static final Map<String, String> STATIC_TYPES = Map.of("/app.js", "text/javascript; charset=utf-8",
            "/style.css", "text/css; charset=utf-8", "/", "text/html; charset=utf-8");

    @Reference
    private ZoneManager zones;
    @Reference
    private StateLocation state;
    /** Every metrics source; DS replaces the list as sources come and go. */
    @Reference(cardinality = ReferenceCardinality.MULTIPLE, policy = ReferencePolicy.DYNAMIC,
            policyOption = ReferencePolicyOption.GREEDY)
    private volatile List<ZoneMetricsSource> sources = List.of();
    private final Map<ServiceReference<HypervisorDriver>, Boolean> drivers = new java.util.concurrent.ConcurrentHashMap<>();

    private final MetricsHistory history = new MetricsHistory();
    private final Map<String, byte[]> pages = new HashMap<>();
    private PasswordHash password;
    private final Object loginLock = new Object();
    private Sessions sessions;
    private HttpServer server;
    private ExecutorService workers;
    private ScheduledExecutorService sampler;

    @Reference(service = HypervisorDriver.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void addDriver(ServiceReference<HypervisorDriver> ref) {
        drivers.put(ref, Boolean.TRUE);
    }

    void removeDriver(ServiceReference<HypervisorDriver> ref) {
        drivers.remove(ref);
    }

    @Activate
    void activate(WebConfig config) throws IOException {
        try {
            password = PasswordHash.parse(config.passwordHash());
        } catch (IllegalArgumentException e) {
            LOG.log(Level.ERROR, "web console not started: " + e.getMessage() + " in etc/io.zonekeeper.web.cfg;"
                    + " there is no default password (bundles/zone-web/README.md says how to make one)");
            return;
        }
        for (String p : List.of("index.html", "login.html", "app.js", "style.css")) {
            try (InputStream in = WebConsole.class.getResourceAsStream("static/" + p)) {
                pages.put(p, in.readAllBytes());
            }
        }
        sessions = new Sessions(Math.max(1, config.sessionMinutes()) * 60_000L, System::currentTimeMillis);
        server = HttpServer.create(new InetSocketAddress(config.bindAddress(), config.port()), 16);
        workers = Executors.newFixedThreadPool(4, daemon("zonekeeper-web"));
        server.setExecutor(workers);
        server.createContext("/", this::serve);
        sampler = Executors.newSingleThreadScheduledExecutor(daemon("zonekeeper-web-sampler"));
        sampler.scheduleWithFixedDelay(this::sample, 0, 1, TimeUnit.SECONDS);
        server.start();
        LOG.log(Level.INFO, "web console at http://" + hostPort(server.getAddress()) + "/");
    }

    @Deactivate
    void deactivate() {
        if (server != null) {
            server.stop(0);
            workers.shutdownNow();
            sampler.shutdownNow();
        }
    }

    private static String hostPort(InetSocketAddress a) {
        String h = a.getAddress().getHostAddress();
        return (h.contains(":") ? "[" + h + "]" : h) + ":" + a.getPort();
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        return r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        };
    }

    /** One point per zone: the sum of its CPU seconds and of its memory over every source that counts them. */
    void sample() {
        try {
            List<ZoneInfo> all = zones.list();
            long now = System.currentTimeMillis();
            for (ZoneInfo z : all) {
                double cpu = -1;
                double memory = -1;
                if (z.state().isActive()) {
                    for (ZoneMetricsSource s : sources) {
                        try {
                            for (ZoneMetric m : s.collect(z)) {
                                switch (m.name()) {
                                    case "zonekeeper_zone_cpu_seconds" -> cpu = Math.max(cpu, 0) + m.value();
                                    case "zonekeeper_zone_memory_rss_bytes", "zonekeeper_zone_memory_bytes" ->
                                        memory = Math.max(memory, 0) + m.value();
                                    default -> { }
                                }
                            }
                        } catch (RuntimeException e) {
                            LOG.log(Level.DEBUG, "metrics source failed for zone " + z.name() + ": " + e);
                        }
                    }
                }
                history.add(z.name(), now, cpu, memory);
            }
            history.retain(all.stream().map(ZoneInfo::name).collect(Collectors.toSet()));
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "web console could not sample the zones: " + e);
        }
    }

    private void serve(HttpExchange ex) throws IOException {
        try (ex) {
            var h = ex.getResponseHeaders();
            h.set("Content-Security-Policy", CSP);
            h.set("X-Content-Type-Options", "nosniff");
            h.set("X-Frame-Options", "DENY");
            h.set("Referrer-Policy", "no-referrer");
            h.set("Cache-Control", "no-store");
            String path = ex.getRequestURI().getRawPath();
            String method = ex.getRequestMethod();
            if (path.equals("/login")) {
                if (method.equals("POST")) {
                    login(ex);
                } else {
                    send(ex, 200, "text/html; charset=utf-8", loginPage(""));
                }
                return;
            }
            String session = cookie(ex, COOKIE);
            if (!sessions.touch(session)) {
                if (path.startsWith("/api/")) {
                    send(ex, 401, "application/json", "{\"error\":\"log in first\"}".getBytes(StandardCharsets.UTF_8));
                } else {
                    h.set("Location", "/login");
                    send(ex, 303, "text/plain; charset=utf-8", "log in first\n".getBytes(StandardCharsets.UTF_8));
                }
                return;
            }
            if (path.equals("/logout") && method.equals("POST")) {
                sessions.close(session);
                h.set("Set-Cookie", COOKIE + "=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict");
                h.set("Location", "/login");
                send(ex, 303, "text/plain; charset=utf-8", "logged out\n".getBytes(StandardCharsets.UTF_8));
                return;
            }
            if (!method.equals("GET")) {
                send(ex, 405, "text/plain; charset=utf-8", "read-only: GET only\n".getBytes(StandardCharsets.UTF_8));
                return;
            }
            Map<String, String> q = form(ex.getRequestURI().getRawQuery());
            switch (path) {
                case "/", "/app.js", "/style.css" -> send(ex, 200, STATIC_TYPES.get(path),
                        pages.get(path.equals("/") ? "index.html" : path.substring(1)));
                case "/api/zones" -> json(ex, zonesJson());
                case "/api/drivers" -> json(ex, driversJson());
                case "/api/history" -> withZone(ex, q, z -> json(ex, historyJson(z)));
                case "/api/console" -> withZone(ex, q, z -> json(ex, consoleJson(z)));
                case "/logs" -> withZone(ex, q, z -> send(ex, 200, "text/html; charset=utf-8", logsPage(z)));
                default -> send(ex, 404, "text/plain; charset=utf-8", "no such page\n".getBytes(StandardCharsets.UTF_8));
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "web console request " + ex.getRequestURI().getRawPath() + " failed: " + e);
            throw e;
        }
    }

    private interface ZoneAnswer {
        void answer(ZoneInfo z) throws IOException;
    }

    private void withZone(HttpExchange ex, Map<String, String> q, ZoneAnswer a) throws IOException {
        Optional<ZoneInfo> z = zones.get(q.getOrDefault("zone", ""));
        if (z.isEmpty()) {
            send(ex, 404, "application/json", "{\"error\":\"no such zone\"}".getBytes(StandardCharsets.UTF_8));
            return;
        }
        a.answer(z.get());
    }

    private void login(HttpExchange ex) throws IOException {
        byte[] body = ex.getRequestBody().readNBytes(FORM_LIMIT + 1);
        String given = body.length > FORM_LIMIT ? null
                : form(new String(body, StandardCharsets.UTF_8)).get("password");
        boolean matches;
        // One check at a time: each costs a PBKDF2 run, so guessing in parallel gains nothing and holds one CPU.
        synchronized (loginLock) {
            matches = given != null && password.matches(given);
        }
        if (!matches) {
            LOG.log(Level.WARNING, "web console: login refused from " + ex.getRemoteAddress().getAddress()
                    .getHostAddress());
            send(ex, 401, "text/html; charset=utf-8", loginPage("Wrong password: login refused."));
            return;
        }
        ex.getResponseHeaders().set("Set-Cookie", COOKIE + "=" + sessions.open()
                + "; Path=/; HttpOnly; SameSite=Strict");
        ex.getResponseHeaders().set("Location", "/");
        send(ex, 303, "text/plain; charset=utf-8", "logged in\n".getBytes(StandardCharsets.UTF_8));
    }

    private byte[] loginPage(String message) {
        String page = new String(pages.get("login.html"), StandardCharsets.UTF_8);
        return page.replace("<!--MESSAGE-->", HtmlText.escape(message)).getBytes(StandardCharsets.UTF_8);
    }

    private JsonObject zonesJson() {
        JsonArrayBuilder a = Json.createArrayBuilder();
        for (ZoneInfo z : zones.list()) {
            MetricsHistory.Point p = history.latest(z.name());
            a.add(Json.createObjectBuilder().add("name", z.name()).add("state", z.state().name())
                    .add("driver", z.driver() == null ? "-" : z.driver()).add("reason", GuestText.escape(z.reason()))
                    .add("since", z.since().toString())
                    .add("cpuPercent", p == null ? -1 : p.cpuPercent())
                    .add("memoryBytes", p == null ? -1 : p.memoryBytes()));
        }
        return Json.createObjectBuilder().add("time", Instant.now().toString()).add("zones", a).build();
    }

    private JsonObject historyJson(ZoneInfo z) {
        JsonArrayBuilder a = Json.createArrayBuilder();
        for (MetricsHistory.Point p : history.of(z.name())) {
            a.add(Json.createArrayBuilder().add(p.timeMillis()).add(p.cpuPercent()).add(p.memoryBytes()));
        }
        return Json.createObjectBuilder().add("zone", z.name()).add("points", a).build();
    }

    private JsonObject consoleJson(ZoneInfo z) throws IOException {
        Path log = consoleLog(z);
        if (log == null || !Files.exists(log)) {
            return Json.createObjectBuilder().add("zone", z.name()).add("text", "").add("size", 0).build();
        }
        FileTail.Tail t = FileTail.read(log, CONSOLE_TAIL);
        return Json.createObjectBuilder().add("zone", z.name()).add("text", GuestText.escape(t.text()))
                .add("size", t.fileSize()).add("cut", t.cut()).build();
    }

    private Path consoleLog(ZoneInfo z) {
        try {
            return zones.consoleLog(z.name());
        } catch (ZoneException e) {
            return null; // destroyed meanwhile
        }
    }

    private byte[] logsPage(ZoneInfo z) throws IOException {
        Path log = consoleLog(z);
        String text;
        if (log == null || !Files.exists(log)) {
            text = "(zone " + z.name() + " has printed nothing yet)";
        } else {
            FileTail.Tail t = FileTail.read(log, LOGS_TAIL);
            text = (t.cut() ? "(the console log holds " + t.fileSize() / 1024 + " KiB; its last " + LOGS_TAIL / 1024
                    + " KiB follow)\n" : "") + GuestText.escape(t.text());
        }
        String name = HtmlText.escape(z.name());
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>zone:logs " + name
                + "</title><link rel=\"stylesheet\" href=\"/style.css\"></head><body><p><a href=\"/\">Zones</a></p>"
                + "<h1>zone:logs " + name + "</h1><pre id=\"logs\">" + HtmlText.escape(text) + "</pre></body></html>\n")
                .getBytes(StandardCharsets.UTF_8);
    }

    private JsonObject driversJson() {
        JsonArrayBuilder d = Json.createArrayBuilder();
        drivers.keySet().stream()
                .sorted((a, b) -> String.valueOf(a.getProperty(HypervisorDriver.TYPE_PROPERTY))
                        .compareTo(String.valueOf(b.getProperty(HypervisorDriver.TYPE_PROPERTY))))
                .forEach(ref -> {
                    var bundle = ref.getBundle();
                    if (bundle != null) {
                        d.add(Json.createObjectBuilder()
                                .add("type", String.valueOf(ref.getProperty(HypervisorDriver.TYPE_PROPERTY)))
                                .add("bundle", bundle.getSymbolicName()).add("version", bundle.getVersion().toString()));
                    }
                });
        JsonArrayBuilder u = Json.createArrayBuilder();
        for (JsonObject e : upgrades()) {
            u.add(e);
        }
        return Json.createObjectBuilder().add("drivers", d).add("upgrades", u).build();
    }

    /**
     * The driver events of zone-observe's event log (state/events/events.jsonl, one JSON object a line, already
     * bounded and escaped there), newest last; none where zone-observe is not installed.
     */
    private List<JsonObject> upgrades() {
        Path file = state.folder("events").resolve("events.jsonl");
        List<JsonObject> out = new java.util.ArrayList<>();
        for (String line : FileTail.lastLines(file, 2000, 1024 * 1024)) {
            try (JsonReader r = Json.createReader(new StringReader(line))) {
                JsonObject o = r.readObject();
                if (o.getString("topic", "").startsWith("io/zonekeeper/driver/")) {
                    out.add(o);
                }
            } catch (RuntimeException e) {
                // a line cut by the bound or being written: not an event to show
            }
        }
        return out;
    }

    private static void json(HttpExchange ex, JsonObject o) throws IOException {
        send(ex, 200, "application/json", o.toString().getBytes(StandardCharsets.UTF_8));
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    static String cookie(HttpExchange ex, String name) {
        for (String header : ex.getRequestHeaders().getOrDefault("Cookie", List.of())) {
            for (String part : header.split(";")) {
                String p = part.trim();
                if (p.startsWith(name + "=")) {
                    return p.substring(name.length() + 1);
                }
            }
        }
        return null;
    }

    /** An application/x-www-form-urlencoded text (a query or a form body); bad escapes leave a field out. */
    static Map<String, String> form(String raw) {
        Map<String, String> m = new HashMap<>();
        if (raw == null) {
            return m;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                continue;
            }
            try {
                m.putIfAbsent(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                        URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
            } catch (IllegalArgumentException e) {
                // a bad %-escape: that field is left out
            }
        }
        return m;
    }
}
