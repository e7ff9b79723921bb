package io.zonekeeper.passthrough.bind;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

import io.zonekeeper.passthrough.PassthroughException;

/**
 * A multi-step change to the host with a labelled undo for every step done, in the manner of libvirt's
 * virhostdev.c: when a step fails, the steps done are undone in reverse order and the exception says which step
 * failed and whether everything was put back.
 */
public final class HostTransaction {
    @FunctionalInterface
    public interface Action {
        void run() throws IOException, PassthroughException;
    }

    private record Undo(String label, Action action) {
    }

    private final String what;
    private final Deque<Undo> undos = new ArrayDeque<>();
    private boolean rolledBack;

    /** @param what the whole change, for messages ("binding 0000:01:00.0 to vfio-pci") */
    public HostTransaction(String what) {
        this.what = what;
    }

    /**
     * Runs a step. If it fails, everything done so far is rolled back and a {@link PassthroughException} says so.
     *
     * @param undo what puts the step back; {@code null} for a step that changes nothing (a check)
     */
    public void step(String label, Action action, String undoLabel, Action undo) throws PassthroughException {
        try {
            action.run();
        } catch (IOException | PassthroughException | RuntimeException e) {
            throw rollBack(label, e);
        }
        if (undo != null) {
            undos.push(new Undo(undoLabel, undo));
        }
    }

    /**
     * Rolls back because something outside a step failed (reading a device's state between steps). An exception
     * that a failed step threw, and that was rolled back already, is passed through as it is.
     */
    public PassthroughException abort(String failedStep, PassthroughException cause) {
        return rolledBack ? cause : rollBack(failedStep, cause);
    }

    private PassthroughException rollBack(String failedStep, Exception cause) {
        rolledBack = true;
        List<String> undone = new ArrayList<>();
        List<String> failed = new ArrayList<>();
        while (!undos.isEmpty()) {
            Undo undo = undos.pop();
            try {
                undo.action().run();
                undone.add(undo.label());
            } catch (IOException | PassthroughException | RuntimeException e) {
                failed.add(undo.label() + " (" + e.getMessage() + ")");
            }
        }
        StringBuilder message = new StringBuilder(what).append(" failed at '").append(failedStep).append("': ")
                .append(cause.getMessage() == null ? cause.toString() : cause.getMessage());
        if (failed.isEmpty()) {
            message.append(undone.isEmpty() ? "; nothing had been changed"
                    : "; rolled back: " + String.join(", ", undone) + "; the host is as it was");
        } else {
            message.append("; ROLLBACK INCOMPLETE, check these by hand: ").append(String.join(", ", failed));
            if (!undone.isEmpty()) {
                message.append("; rolled back: ").append(String.join(", ", undone));
            }
        }
        return new PassthroughException(message.toString(), cause);
    }
}
