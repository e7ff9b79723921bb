package io.zonekeeper.control;

import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.time.Duration;

import org.apache.felix.service.command.CommandProcessor;
import org.osgi.framework.BundleContext;
import org.osgi.service.component.annotations.Activate;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Deactivate;
import org.osgi.service.component.annotations.Reference;

import jakarta.json.spi.JsonProvider;

/**
 * Listens on {@code <zonekeeper.state>/run/control.sock} and runs each connection's command line through the
 * Gogo {@link CommandProcessor}. There is no network listener. The socket lives in a folder only the appliance's
 * user can enter, and each peer's credentials ({@code SO_PEERCRED}) are checked as well: root, the appliance's own
 * user, and the members of the group named by the framework property {@value #GROUP_PROPERTY} may send commands.
 * Slow or greedy clients are bounded by {@link ControlListener}'s limits.
 */
@Component(immediate = true, service = {})
public class ControlSocketServer {

    /**
     * Framework property naming the appliance's state directory; set by the launcher. Read here rather than through
     * zone-core's StateLocation on purpose: this bundle imports nothing of Zonekeeper, so that an operator still
     * reaches the shell when zone-core does not start.
     */
    public static final String STATE_PROPERTY = "zonekeeper.state";
    /** Framework property naming a group whose members may use the control socket too; unset: nobody else. */
    public static final String GROUP_PROPERTY = "zonekeeper.control.group";

    static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);
    static final Duration WRITE_STALL = Duration.ofSeconds(60);

    private static final Logger LOG = System.getLogger("io.zonekeeper.control");

    private final ControlSocketBinder binder;
    private volatile ControlListener listener;

    @Activate
    public ControlSocketServer(BundleContext context, @Reference CommandProcessor processor) throws IOException {
        // Look the provider up once, with our own class loader: JsonProvider.provider() consults the thread's
        // context class loader, which inside OSGi is whatever thread happens to call.
        JsonProvider json = JsonProvider.provider();
        String state = context.getProperty(STATE_PROPERTY);
        if (state == null || state.isBlank()) {
            String message = "framework property " + STATE_PROPERTY + " is not set, so there is no place for "
                    + "the control socket; start the appliance with bin/zonekeeper";
            LOG.log(Level.ERROR, message);
            throw new IllegalStateException(message);
        }
        String group = context.getProperty(GROUP_PROPERTY);
        UserPrincipalLookupService users = FileSystems.getDefault().getUserPrincipalLookupService();
        GroupPrincipal groupPrincipal = null;
        if (group != null && !group.isBlank()) {
            try {
                groupPrincipal = users.lookupPrincipalByGroupName(group.trim());
            } catch (IOException e) {
                // A typo here must not cost the operator the socket: fall back to the narrower rule and say so.
                LOG.log(Level.ERROR, GROUP_PROPERTY + " names group '" + group + "', which this host does not "
                        + "know; the setting is ignored, and only root and the appliance's user may use the "
                        + "control socket");
                group = null;
            }
        }
        this.binder = new ControlSocketBinder(ControlSocketBinder.socketPath(Path.of(state)), groupPrincipal);
        ServerSocketChannel bound = binder.bind();
        if (bound == null) {
            LOG.log(Level.ERROR, "Another appliance is already answering on " + binder.socket()
                    + "; this one leaves it alone and takes no commands over the control socket");
            return;
        }
        try {
            // The socket file is ours: its owner is the user this appliance runs as.
            PeerPolicy peers = PeerPolicy.of(users, Files.getOwner(binder.socket()), group, Path.of("/etc/group"));
            ControlListener l = new ControlListener(bound, peers, processor, json, REQUEST_TIMEOUT, WRITE_STALL);
            l.start();
            listener = l;
            LOG.log(Level.DEBUG, "Control socket listening on " + binder.socket() + " for " + peers.describe());
        } catch (IOException | RuntimeException e) {
            bound.close();
            binder.removeSocketFile();
            throw e;
        }
    }

    @Deactivate
    void deactivate() {
        ControlListener l = listener;
        listener = null;
        if (l == null) {
            return;
        }
        l.close();
        binder.removeSocketFile();
    }

    /** The socket this component listens on, or null when another appliance owns it. */
    Path socket() {
        return listener == null ? null : binder.socket();
    }
}
