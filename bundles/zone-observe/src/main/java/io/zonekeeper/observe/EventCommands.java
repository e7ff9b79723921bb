package io.zonekeeper.observe;

import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import org.apache.felix.service.command.Descriptor;
import org.apache.felix.service.command.Parameter;
import org.apache.felix.service.command.annotations.GogoCommand;
import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;

import io.zonekeeper.api.ZoneException;

/** {@code zone:events}: the recent lifecycle events, and with {@code --follow} the ones that come. */
@Component(service = EventCommands.class)
@GogoCommand(scope = "zone", function = { "events" })
public class EventCommands {
    /** A follower that falls this far behind loses events rather than holding memory for them. */
    private static final int FOLLOW_BACKLOG = 10_000;

    @Reference
    EventRecorder recorder;

    @Descriptor("Show the recent zone and driver events (kept across restarts, the last " + EventRecorder.CAPACITY
            + "); --follow prints new ones as they come until interrupted or --for seconds pass")
    public void events(
            @Descriptor("how many recent events to show") @Parameter(names = { "-n", "--lines" }, absentValue = "50") int n,
            @Descriptor("one JSON object a line") @Parameter(names = "--json", presentValue = "true", absentValue = "false") boolean json,
            @Descriptor("keep printing events as they come") @Parameter(names = { "-f", "--follow" }, presentValue = "true", absentValue = "false") boolean follow,
            @Descriptor("with --follow: stop after this many seconds (0: until interrupted)") @Parameter(names = "--for", absentValue = "0") int seconds,
            @Descriptor("only this zone's events") @Parameter(names = "--zone", absentValue = "") String zone)
            throws Exception {
        if (n < 0 || seconds < 0) {
            throw new ZoneException("zone:events: -n and --for take a number of 0 or more");
        }
        PrintStream out = System.out;
        BlockingQueue<RecordedEvent> coming = new LinkedBlockingQueue<>(FOLLOW_BACKLOG);
        Consumer<RecordedEvent> follower = coming::offer;
        if (follow) {
            // Subscribed before the recent ones are printed, so that nothing falls between the two.
            recorder.follow(follower);
        }
        try {
            List<RecordedEvent> recent = recorder.last(Integer.MAX_VALUE).stream()
                    .filter(e -> zone.isEmpty() || zone.equals(e.zone())).toList();
            for (RecordedEvent e : recent.subList(Math.max(0, recent.size() - n), recent.size())) {
                print(out, e, json);
                coming.remove(e);
            }
            if (!follow) {
                if (recent.isEmpty() && !json) {
                    out.println("no events yet");
                }
                return;
            }
            long deadline = seconds == 0 ? Long.MAX_VALUE : System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            while (System.nanoTime() < deadline) {
                RecordedEvent e = coming.poll(Math.min(500, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())
                        + 1), TimeUnit.MILLISECONDS);
                if (e != null && (zone.isEmpty() || zone.equals(e.zone()))) {
                    print(out, e, json);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // Ctrl-C: the follow ends
        } finally {
            recorder.unfollow(follower);
        }
    }

    private static void print(PrintStream out, RecordedEvent e, boolean json) {
        out.println(json ? e.toJson().toString() : e.describe());
        out.flush();
    }
}
