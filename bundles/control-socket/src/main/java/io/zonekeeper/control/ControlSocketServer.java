package io.zonekeeper.control;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.felix.service.command.CommandProcessor;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;

import jakarta.json.spi.JsonProvider;

/**
 * Listens on {@code <zonekeeper.state>/run/control.sock} and runs each connection's command line through the
 * Gogo {@link CommandProcessor}. There is no network listener: a Unix socket in a folder only the appliance's
 * user can enter is the whole access control, because the JDK cannot read a peer's credentials.
 */
@Component(immediate = true, service = {})
public class ControlSocketServer {

    /**
     * Framework property naming the appliance's state directory; set by the launcher. Read here rather than through
     * zone-core's StateLocation on purpose: this bundle imports nothing of Zonekeeper, so that an operator still
     * reaches the shell when zone-core does not start.
     */
    public static final String STATE_PROPERTY = "zonekeeper.state";

    private static final Logger LOG = System.getLogger("io.zonekeeper.control");

    private final CommandProcessor processor;
    private final JsonProvider json;
    private final Set<SocketChannel> clients = ConcurrentHashMap.newKeySet();
    private final AtomicInteger connectionCount = new AtomicInteger();
    private final ControlSocketBinder binder;
    private volatile ServerSocketChannel server;
    private volatile boolean closing;
    private Thread acceptor;

    @Activate
    public ControlSocketServer(BundleContext context, @Reference CommandProcessor processor) throws IOException {
        this.processor = processor;
        // Look the provider up once, with our own class loader: JsonProvider.provider() consults the thread's
        // context class loader, which inside OSGi is whatever thread happens to call.
        this.json = JsonProvider.provider();
        String state = context.getProperty(STATE_PROPERTY);
        if (state == null || state.isBlank()) {
            String message = "framework property " + STATE_PROPERTY + " is not set, so there is no place for "
                    + "the control socket; start the appliance with bin/zonekeeper";
            LOG.log(Level.ERROR, message);
            throw new IllegalStateException(message);
        }
        this.binder = new ControlSocketBinder(ControlSocketBinder.socketPath(Path.of(state)));
        ServerSocketChannel bound = binder.bind();
        if (bound == null) {
            LOG.log(Level.ERROR, "Another appliance is already answering on " + binder.socket()
                    + "; this one leaves it alone and takes no commands over the control socket");
            return;
        }
        server = bound;
        acceptor = new Thread(this::acceptLoop, "zonekeeper-control-accept");
        acceptor.setDaemon(true);
        acceptor.start();
        LOG.log(Level.DEBUG, "Control socket listening on " + binder.socket());
    }

    @Deactivate
    void deactivate() {
        closing = true;
        ServerSocketChannel s = server;
        server = null;
        if (s == null) {
            return;
        }
        try {
            s.close();
        } catch (IOException e) {
            LOG.log(Level.WARNING, "Closing the control socket failed: " + e.getMessage());
        }
        for (SocketChannel client : clients) {
            try {
                client.close();
            } catch (IOException ignored) {
                // the client is going away either way
            }
        }
        binder.removeSocketFile();
        try {
            acceptor.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The socket this component listens on, or null when another appliance owns it. */
    Path socket() {
        return server == null ? null : binder.socket();
    }

    private void acceptLoop() {
        ServerSocketChannel s = server;
        while (s != null && s.isOpen()) {
            SocketChannel client;
            try {
                client = s.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!closing) {
                    LOG.log(Level.ERROR, "Accepting on " + binder.socket() + " failed: " + e.getMessage());
                }
                return;
            }
            clients.add(client);
            Thread t = new Thread(() -> serve(client), "zonekeeper-control-" + connectionCount.incrementAndGet());
            t.setDaemon(true);
            t.start();
        }
    }

    private void serve(SocketChannel client) {
        try (client) {
            new ControlConnection(client, processor, json).run();
        } catch (IOException e) {
            if (!closing) {
                LOG.log(Level.DEBUG, "Control connection ended: " + e.getMessage());
            }
        } finally {
            clients.remove(client);
        }
    }
}
