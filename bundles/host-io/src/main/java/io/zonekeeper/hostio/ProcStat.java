package io.zonekeeper.hostio;

import java.util.Optional;

/**
 * The fields of a {@code /proc/PID/stat} (or {@code /proc/PID/task/TID/stat}) line that Zonekeeper reads: the state
 * letter and the CPU time used (utime + stime, in clock ticks). The command name in parentheses may hold spaces and
 * parentheses of its own (a guest-chosen process name can), so fields are counted from the last ')'.
 *
 * @param state    the state letter: R running, S sleeping, D disk wait, Z zombie, X dead, ...
 * @param cpuTicks user plus system time, in clock ticks (USER_HZ, 100 on Linux)
 */
public record ProcStat(char state, long cpuTicks) {
    /** Milliseconds per clock tick at Linux's USER_HZ of 100. */
    public static final long MS_PER_TICK = 10;

    /** The line's state and CPU time; empty when it is not a stat line. */
    public static Optional<ProcStat> parse(String stat) {
        int close = stat.lastIndexOf(')');
        if (close < 0) {
            return Optional.empty();
        }
        String[] f = stat.substring(close + 1).trim().split(" ");
        if (f.length < 13 || f[0].length() != 1) {
            return Optional.empty();
        }
        try {
            return Optional.of(new ProcStat(f[0].charAt(0), Long.parseLong(f[11]) + Long.parseLong(f[12])));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** Whether the process has ended (a zombie waiting to be reaped, or dead). */
    public boolean ended() {
        return state == 'Z' || state == 'X' || state == 'x';
    }
}
