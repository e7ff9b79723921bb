package io.zonekeeper.passthrough.pci;

import java.util.Comparator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PCI address, {@code domain:bus:device.function} as sysfs names it ({@code 0000:01:00.0}). Parsing is strict
 * because the address becomes a file name under /sys: nothing that is not a well-formed address gets that far.
 */
public record PciAddress(int domain, int bus, int device, int function) implements Comparable<PciAddress> {
    private static final Pattern BDF = Pattern.compile("([0-9a-fA-F]{4,8}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\\.([0-7])");
    private static final Comparator<PciAddress> ORDER = Comparator.comparingInt(PciAddress::domain)
            .thenComparingInt(PciAddress::bus).thenComparingInt(PciAddress::device)
            .thenComparingInt(PciAddress::function);
    private static final String EXAMPLE = "give domain:bus:device.function, such as 0000:01:00.0";

    public PciAddress {
        if (domain < 0 || bus < 0 || bus > 0xff || device < 0 || device > 0x1f || function < 0 || function > 7) {
            throw new IllegalArgumentException("not a PCI address: domain " + domain + " bus " + bus + " device "
                    + device + " function " + function);
        }
    }

    /** Parses a BDF; the message of the exception says what was wrong with it and what is expected. */
    public static PciAddress parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("a PCI address is required: " + EXAMPLE);
        }
        if (text.indexOf('/') >= 0 || text.indexOf('\\') >= 0 || text.contains("..") || text.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("'" + printable(text) + "' is not a PCI address: it contains path "
                    + "characters; " + EXAMPLE);
        }
        Matcher m = BDF.matcher(text);
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + printable(text) + "' is not a PCI address: " + EXAMPLE);
        }
        int device = Integer.parseInt(m.group(3), 16);
        if (device > 0x1f) {
            throw new IllegalArgumentException("'" + text + "' is not a PCI address: the device number is at most 1f");
        }
        return new PciAddress(Integer.parseUnsignedInt(m.group(1), 16), Integer.parseInt(m.group(2), 16), device,
                Integer.parseInt(m.group(4)));
    }

    /** Whether the text is a well-formed address; for names found in a directory listing. */
    public static boolean isAddress(String text) {
        return text != null && BDF.matcher(text).matches() && Integer.parseInt(text.substring(text.length() - 4,
                text.length() - 2), 16) <= 0x1f;
    }

    /** True for another function of the same physical device (a GPU and its HDMI audio function). */
    public boolean sameSlot(PciAddress other) {
        return domain == other.domain && bus == other.bus && device == other.device;
    }

    /** The device this function belongs to, {@code 0000:01:00}: the functions of a GPU share it. */
    public String slot() {
        return String.format("%04x:%02x:%02x", domain, bus, device);
    }

    @Override
    public int compareTo(PciAddress other) {
        return ORDER.compare(this, other);
    }

    @Override
    public String toString() {
        return String.format("%04x:%02x:%02x.%x", domain, bus, device, function);
    }

    private static String printable(String text) {
        String cut = text.length() > 64 ? text.substring(0, 64) + "..." : text;
        StringBuilder b = new StringBuilder();
        cut.codePoints().forEach(c -> b.append(c < 0x20 || c == 0x7f ? "?" : Character.toString(c)));
        return b.toString();
    }
}
