package io.zonekeeper.disk;

import java.io.IOException;
import java.io.StringReader;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.zonekeeper.api.DiskSpec;
import io.zonekeeper.api.ZoneSpec;
import io.zonekeeper.hostio.AtomicFiles;
import io.zonekeeper.hostio.ProcessRunner;
import io.zonekeeper.spi.PreparedDisk;
import io.zonekeeper.spi.PreparedResources;
import jakarta.json.Json;
import jakarta.json.JsonObject;
import jakarta.json.JsonReader;

/**
 * The disk images of this appliance, the format recorded for each, and their read-write locks. Images live in {@code <state>/disks} or in
 * folders the configuration allows; a path is judged by its real path, so a symlink cannot lead outside. A lock
 * is a file in {@code <state>/disks/locks}, written atomically, naming the zone that holds the image: it survives
 * an appliance restart, and zone-core gives it back when the zone stops, crashes or is destroyed. An image's format
 * is recorded in {@code <state>/disks/formats} when {@code disk:create} makes it (or, for an image named by path, at
 * its first attach: what the spec said) and is never learnt from the image again, because the guest writes the image.
 */
public final class Disks {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.disk");
    private static final Pattern SIZE = Pattern.compile("(\\d+)([KMGT]?)(i?B)?", Pattern.CASE_INSENSITIVE);
    public static final long MIN_BYTES = 1L << 20;
    /** How long mke2fs or qemu-img may take to make one image before it is killed. */
    static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(300);

    private final Path disksDir;
    private final Path locksDir;
    private final Path formatsDir;
    private final List<Path> allowed;
    private final String mke2fs;
    private final String qemuImg;
    private final ProcessRunner runner;

    /**
     * @param allowedFolders folders besides {@code <state>/disks} whose images zones may use
     */
    public Disks(Path stateDir, Collection<Path> allowedFolders, String mke2fs, String qemuImg) {
        this(stateDir, allowedFolders, mke2fs, qemuImg, COMMAND_TIMEOUT);
    }

    Disks(Path stateDir, Collection<Path> allowedFolders, String mke2fs, String qemuImg, Duration commandTimeout) {
        this.runner = new ProcessRunner(commandTimeout);
        this.disksDir = stateDir.resolve("disks");
        this.locksDir = disksDir.resolve("locks");
        this.formatsDir = disksDir.resolve("formats");
        List<Path> a = new ArrayList<>();
        a.add(disksDir);
        a.addAll(allowedFolders);
        this.allowed = List.copyOf(a);
        this.mke2fs = mke2fs;
        this.qemuImg = qemuImg;
    }

    public Path disksDir() {
        return disksDir;
    }

    public List<Path> allowedFolders() {
        return allowed;
    }

    // ------------------------------------------------------------------------------------------ confinement

    /**
     * The real path of {@code path} (symlinks resolved), if it is a regular file inside an allowed folder (itself
     * judged by its real path); otherwise an exception that says why.
     */
    public Path confine(String path) throws DiskException {
        Path p = Path.of(path);
        if (!p.isAbsolute()) {
            throw new DiskException("'" + path + "' must be an absolute path");
        }
        Path real;
        try {
            real = p.toRealPath();
        } catch (NoSuchFileException e) {
            throw new DiskException(path + " does not exist; disk:create makes images");
        } catch (IOException e) {
            throw new DiskException(path + " cannot be resolved: " + e.getMessage(), e);
        }
        for (Path folder : allowed) {
            try {
                if (real.startsWith(folder.toRealPath())) {
                    if (!Files.isRegularFile(real)) {
                        throw new DiskException(path + " is not a regular file");
                    }
                    return real;
                }
            } catch (IOException missingFolder) {
                // an allowed folder that does not exist holds nothing
            }
        }
        throw new DiskException(path + (real.toString().equals(p.normalize().toString()) ? "" : " (really " + real
                + ")") + " is outside the folders disks may come from (" + allowed.stream().map(Path::toString)
                .reduce((x, y) -> x + ", " + y).orElse("") + "); allow its folder in the configuration "
                + "io.zonekeeper.disk, allowedFolders");
    }

    /**
     * The format recorded for the image at real path {@code real}: its record, else, for an image that
     * {@code disk:create} made before formats were recorded, the one its file name says; empty when none was.
     */
    Optional<String> recordedFormat(Path real) throws IOException {
        Path f = formatFile(real);
        if (Files.exists(f)) {
            try (JsonReader r = Json.createReader(new StringReader(Files.readString(f, StandardCharsets.UTF_8)))) {
                JsonObject o = r.readObject();
                String format = o.getString("format", "");
                if (!o.getString("path", "").equals(real.toString()) || !(DiskSpec.FORMAT_RAW.equals(format)
                        || DiskSpec.FORMAT_QCOW2.equals(format))) {
                    throw new IOException("format record " + f + " is not one of " + real);
                }
                return Optional.of(format);
            } catch (RuntimeException e) {
                throw new IOException("format record " + f + " is unreadable: " + e.getMessage(), e);
            }
        }
        String n = real.getFileName().toString();
        if (real.getParent() != null && real.getParent().equals(realDisksDir())) {
            if (n.endsWith(".img")) {
                return Optional.of(DiskSpec.FORMAT_RAW);
            }
            if (n.endsWith(".qcow2")) {
                return Optional.of(DiskSpec.FORMAT_QCOW2);
            }
        }
        return Optional.empty();
    }

    private Path realDisksDir() {
        try {
            return disksDir.toRealPath();
        } catch (IOException e) {
            return disksDir;
        }
    }

    private void recordFormat(Path real, String format, String how) throws IOException {
        AtomicFiles.writeString(formatFile(real), Json.createObjectBuilder().add("path", real.toString())
                .add("format", format).add("recorded", how).add("since", Instant.now().toString()).build()
                .toString());
    }

    Path formatFile(Path real) {
        return formatsDir.resolve(keyOf(real) + ".json");
    }

    /** Parses sizes such as {@code 64M}, {@code 1G}, {@code 512MiB} or a number of bytes. */
    public static long parseSize(String s) throws DiskException {
        Matcher m = SIZE.matcher(s == null ? "" : s.trim());
        if (!m.matches()) {
            throw new DiskException("--size '" + s + "' is not a size like 64M or 1G");
        }
        long n = Long.parseLong(m.group(1));
        int shift = switch (m.group(2).toUpperCase(Locale.ROOT)) {
            case "K" -> 10;
            case "M" -> 20;
            case "G" -> 30;
            case "T" -> 40;
            default -> 0;
        };
        if (n > (Long.MAX_VALUE >> shift)) {
            throw new DiskException("--size '" + s + "' is too large");
        }
        long bytes = n << shift;
        if (bytes < MIN_BYTES) {
            throw new DiskException("--size '" + s + "' is less than the 1M an ext4 image needs");
        }
        return bytes;
    }

    // ---------------------------------------------------------------------------------- create, list, destroy

    /**
     * Makes an ext4 image {@code <state>/disks/NAME.img} (raw) or {@code NAME.qcow2}, filled from {@code from}
     * when given, with {@code mke2fs -d}: no mount and no loop device. The image appears only when complete.
     */
    public synchronized DiskImage create(String name, String size, String from, String format) throws DiskException {
        if (name == null || !ZoneSpec.NAME.matcher(name).matches()) {
            throw new DiskException("disk name '" + name + "' must be 1-63 lower-case letters, digits or dashes");
        }
        if (!DiskSpec.FORMAT_RAW.equals(format) && !DiskSpec.FORMAT_QCOW2.equals(format)) {
            throw new DiskException("--format '" + format + "' is not raw or qcow2");
        }
        long bytes = parseSize(size);
        if (from != null && !from.isEmpty() && !Files.isDirectory(Path.of(from))) {
            throw new DiskException("--from " + from + " is not a folder");
        }
        Path target = disksDir.resolve(name + (DiskSpec.FORMAT_RAW.equals(format) ? ".img" : ".qcow2"));
        for (String ext : List.of(".img", ".qcow2")) {
            if (Files.exists(disksDir.resolve(name + ext))) {
                throw new DiskException("disk " + name + " exists already (" + disksDir.resolve(name + ext)
                        + "); disk:destroy it first or pick another name");
            }
        }
        Path raw = disksDir.resolve("." + name + ".raw.tmp");
        Path qcow = disksDir.resolve("." + name + ".qcow2.tmp");
        try {
            Files.createDirectories(disksDir);
            Files.deleteIfExists(raw);
            List<String> cmd = new ArrayList<>(List.of(mke2fs, "-q", "-F", "-t", "ext4", "-L", name));
            if (from != null && !from.isEmpty()) {
                cmd.addAll(List.of("-d", Path.of(from).toAbsolutePath().toString()));
            }
            cmd.addAll(List.of(raw.toString(), (bytes >> 10) + "k"));
            run(cmd);
            Path made = raw;
            if (DiskSpec.FORMAT_QCOW2.equals(format)) {
                run(List.of(qemuImg, "convert", "-q", "-f", "raw", "-O", "qcow2", raw.toString(), qcow.toString()));
                Files.delete(raw);
                made = qcow;
            }
            // The record comes first: an image never exists without the format it was made in.
            recordFormat(disksDir.toRealPath().resolve(target.getFileName()), format, "disk:create");
            AtomicFiles.rename(made, target);
            return image(target);
        } catch (IOException e) {
            quietlyDelete(raw);
            quietlyDelete(qcow);
            try {
                quietlyDelete(formatFile(disksDir.toRealPath().resolve(target.getFileName())));
            } catch (IOException noFolder) {
                // no disks folder, so no record either
            }
            throw new DiskException("disk " + name + " could not be made: " + e.getMessage(), e);
        }
    }

    public synchronized List<DiskImage> list() throws DiskException {
        List<DiskImage> out = new ArrayList<>();
        if (!Files.isDirectory(disksDir)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(disksDir, "*.{img,qcow2}")) {
            for (Path p : ds) {
                if (Files.isRegularFile(p) && !p.getFileName().toString().startsWith(".")) {
                    out.add(image(p));
                }
            }
        } catch (IOException e) {
            throw new DiskException("cannot list " + disksDir + ": " + e.getMessage(), e);
        }
        out.sort(java.util.Comparator.comparing(DiskImage::name));
        return out;
    }

    /** The image of {@code <state>/disks} called {@code name}. */
    public synchronized Optional<DiskImage> find(String name) throws DiskException {
        return list().stream().filter(d -> d.name().equals(name)).findFirst();
    }

    private DiskImage image(Path p) throws IOException {
        String f = p.getFileName().toString();
        String name = f.substring(0, f.lastIndexOf('.'));
        Path real = p.toRealPath();
        return new DiskImage(name, p, recordedFormat(real).orElse("unrecorded"), Files.size(p),
                lockOf(real).orElse(null));
    }

    /** Removes an image; refused while a zone holds it or names it ({@code usedBy}). */
    public synchronized void destroy(String name, Collection<String> usedBy) throws DiskException {
        DiskImage d = find(name).orElseThrow(() -> new DiskException("no disk named '" + name
                + "' in " + disksDir + "; disk:list shows the disks there are"));
        if (d.lock() != null) {
            throw new DiskException("disk " + name + " is in use: attached read-write to zone " + d.lock().zone()
                    + " since " + d.lock().since() + "; stop that zone first");
        }
        if (!usedBy.isEmpty()) {
            throw new DiskException("disk " + name + " is named by zone(s) " + String.join(", ", usedBy)
                    + "; destroy them or remove the disk from their specs first");
        }
        try {
            Path real = d.path().toRealPath();
            Files.delete(d.path());
            quietlyDelete(formatFile(real));
        } catch (IOException e) {
            throw new DiskException("disk " + name + " could not be removed: " + e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------------------------------- zone resources

    /**
     * Checks every disk of the spec (confinement, format, locks) and takes a lock on each read-write one. All or
     * nothing; a refusal names every broken field. The format is the one recorded for the image; an image that
     * has none gets the spec's recorded now. A raw image that now looks like qcow2, and a qcow2 image that would
     * make its hypervisor open another file, are refused.
     */
    public synchronized PreparedResources prepare(UUID id, ZoneSpec spec) throws DiskException {
        release(id);
        List<String> errors = new ArrayList<>();
        List<PreparedDisk> disks = new ArrayList<>();
        Set<String> names = new HashSet<>();
        Set<Path> seen = new HashSet<>();
        Set<Path> toRecord = new HashSet<>();
        for (int i = 0; i < spec.disks().size(); i++) {
            DiskSpec d = spec.disks().get(i);
            String at = "disks[" + i + "]";
            Path real;
            try {
                real = confine(d.path());
            } catch (DiskException e) {
                errors.add(at + ".path: " + e.getMessage());
                continue;
            }
            if (!seen.add(real)) {
                errors.add(at + ".path: " + d.path() + " is the same image as an earlier disk of this zone");
                continue;
            }
            boolean unrecorded;
            try {
                Optional<String> recorded = recordedFormat(real);
                if (recorded.isPresent() && !recorded.get().equals(d.format())) {
                    errors.add(at + ".format: " + d.path() + " is recorded as a " + recorded.get() + " image, not "
                            + d.format() + "; an image keeps the format it was made or first attached in");
                    continue;
                }
                unrecorded = recorded.isEmpty();
                Optional<String> refusal = ImageHeader.refusal(d.format(), ImageHeader.read(real));
                if (refusal.isPresent()) {
                    errors.add(at + ".path: " + d.path() + " " + refusal.get() + (DiskSpec.FORMAT_RAW.equals(
                            d.format()) ? "; nothing was started: restore the image from a backup, or disk:destroy"
                            + " it (or remove it) and make a new one" : ""));
                    continue;
                }
            } catch (IOException e) {
                errors.add(at + ".path: " + d.path() + " cannot be read: " + e.getMessage());
                continue;
            }
            if (unrecorded) {
                toRecord.add(real);
            }
            Optional<DiskLock> lock = lockOf(real);
            if (lock.isPresent() && !lock.get().zoneId().equals(id)) {
                errors.add(at + ".path: " + d.path() + " is in use: attached read-write to zone "
                        + lock.get().zone() + " since " + lock.get().since() + "; stop that zone first"
                        + (d.readOnly() ? "" : ", or attach the disk read-only to a zone that only reads it"));
                continue;
            }
            String f = real.getFileName().toString();
            String base = f.contains(".") ? f.substring(0, f.lastIndexOf('.')) : f;
            String name = base.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9-]", "-");
            if (name.isEmpty() || !names.add(name)) {
                name = "disk" + i;
                names.add(name);
            }
            disks.add(new PreparedDisk(name, real.toString(), d.format(), d.readOnly()));
        }
        if (!errors.isEmpty()) {
            throw new DiskException("zone " + spec.name() + ": " + String.join("; ", errors));
        }
        List<Path> taken = new ArrayList<>();
        try {
            for (PreparedDisk d : disks) {
                if (toRecord.contains(Path.of(d.path()))) {
                    recordFormat(Path.of(d.path()), d.format(), "first attach, by zone " + spec.name());
                }
            }
            for (PreparedDisk d : disks) {
                if (!d.readOnly()) {
                    Path real = Path.of(d.path());
                    writeLock(new DiskLock(real.toString(), spec.name(), id, Instant.now()));
                    taken.add(lockFile(real));
                }
            }
        } catch (IOException e) {
            taken.forEach(Disks::quietlyDelete);
            throw new DiskException("zone " + spec.name() + ": a disk lock or format record could not be written: "
                    + e.getMessage(), e);
        }
        return new PreparedResources(List.of(), disks);
    }

    /** Gives back every lock that zone {@code id} holds. */
    public synchronized void release(UUID id) {
        for (DiskLock l : locks()) {
            if (l.zoneId().equals(id)) {
                quietlyDelete(lockFile(Path.of(l.path())));
            }
        }
    }

    public synchronized List<String> orphans(Set<UUID> activeZones) {
        List<String> out = new ArrayList<>();
        for (DiskLock l : locks()) {
            if (!activeZones.contains(l.zoneId())) {
                out.add("disk " + l.path() + " is locked read-write by zone " + l.zone() + " (" + l.zoneId()
                        + "), which does not run");
            }
        }
        return out;
    }

    /**
     * Gives back the locks that {@link #orphans} reports of zones this appliance does not know (a zone whose record
     * was quarantined, say), for the operator ({@code disk:orphans --release}). A lock of a known zone that does not
     * run is kept: its next start or its destroy gives it back. One line for each lock released or kept.
     */
    public synchronized List<String> releaseOrphans(Set<UUID> activeZones, Set<UUID> knownZones) {
        List<String> out = new ArrayList<>();
        for (DiskLock l : locks()) {
            if (activeZones.contains(l.zoneId())) {
                continue;
            }
            String what = "read-write lock on " + l.path() + " of zone " + l.zone() + " (" + l.zoneId() + ")";
            if (knownZones.contains(l.zoneId())) {
                out.add("kept: " + what + ", a zone of this appliance: zone:start or zone:destroy " + l.zone()
                        + " gives it back");
            } else {
                quietlyDelete(lockFile(Path.of(l.path())));
                out.add("released: " + what);
            }
        }
        return out;
    }

    List<DiskLock> locks() {
        List<DiskLock> out = new ArrayList<>();
        if (!Files.isDirectory(locksDir)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(locksDir, "*.json")) {
            for (Path f : ds) {
                try {
                    out.add(readLock(f));
                } catch (IOException | RuntimeException e) {
                    LOG.log(Level.WARNING, "disk lock " + f + " is unreadable: " + e.getMessage());
                }
            }
        } catch (IOException e) {
            LOG.log(Level.WARNING, "cannot list " + locksDir + ": " + e.getMessage());
        }
        return out;
    }

    private Optional<DiskLock> lockOf(Path real) {
        Path f = lockFile(real);
        if (!Files.exists(f)) {
            return Optional.empty();
        }
        try {
            return Optional.of(readLock(f));
        } catch (IOException | RuntimeException e) {
            // An unreadable lock still says someone held the image: refuse rather than risk two writers.
            return Optional.of(new DiskLock(real.toString(), "unknown (unreadable lock " + f + ")", new UUID(0, 0),
                    Instant.EPOCH));
        }
    }

    Path lockFile(Path real) {
        return locksDir.resolve(keyOf(real) + ".json");
    }

    /** A file name for what is kept about the image at {@code real}. */
    private static String keyOf(Path real) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(real.toString().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d).substring(0, 24);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static DiskLock readLock(Path f) throws IOException {
        try (JsonReader r = Json.createReader(new StringReader(Files.readString(f, StandardCharsets.UTF_8)))) {
            JsonObject o = r.readObject();
            return new DiskLock(o.getString("path"), o.getString("zone"), UUID.fromString(o.getString("zoneId")),
                    Instant.parse(o.getString("since")));
        }
    }

    private void writeLock(DiskLock l) throws IOException {
        AtomicFiles.writeString(lockFile(Path.of(l.path())), Json.createObjectBuilder().add("path", l.path())
                .add("zone", l.zone()).add("zoneId", l.zoneId().toString()).add("since", l.since().toString()).build()
                .toString());
    }

    private static void quietlyDelete(Path p) {
        try {
            AtomicFiles.delete(p);
        } catch (IOException e) {
            LOG.log(Level.WARNING, "could not remove " + p + ": " + e.getMessage());
        }
    }

    private void run(List<String> cmd) throws IOException {
        try {
            runner.run(cmd).requireSuccess();
        } catch (ProcessRunner.NotStarted e) {
            throw new IOException(e.getMessage() + ": install " + (cmd.get(0).contains("mke2fs") ? "e2fsprogs"
                    : "qemu-utils"), e);
        }
    }
}
