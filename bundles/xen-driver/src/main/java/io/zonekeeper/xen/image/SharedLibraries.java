package io.zonekeeper.xen.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a dynamically linked x86-64 program needs to run in a zone's initramfs: its ELF interpreter
 * ({@code PT_INTERP}) and the closure of its {@code DT_NEEDED} libraries, found in the host's library folders. Read
 * from the files alone (nothing is run, unlike ldd), so that the same answer holds on any host.
 */
public final class SharedLibraries {
    private static final int PT_LOAD = 1;
    private static final int PT_DYNAMIC = 2;
    private static final int PT_INTERP = 3;
    private static final long DT_NULL = 0;
    private static final long DT_NEEDED = 1;
    private static final long DT_STRTAB = 5;

    /** The host folders searched, in the dynamic loader's order on Debian's x86-64 multiarch layout. */
    public static final List<Path> HOST_FOLDERS = List.of(Path.of("/lib/x86_64-linux-gnu"),
            Path.of("/usr/lib/x86_64-linux-gnu"), Path.of("/lib64"), Path.of("/usr/lib64"), Path.of("/lib"),
            Path.of("/usr/lib"));

    /**
     * The program's needs.
     *
     * @param interpreter the loader's path as the program names it ({@code /lib64/ld-linux-x86-64.so.2}) and the
     *                    host file behind it
     * @param libraries   each needed library's name ({@code libc.so.6}) and the host file that has it
     */
    public record Needs(Map.Entry<String, Path> interpreter, Map<String, Path> libraries) {
    }

    private final List<Path> folders;

    public SharedLibraries(List<Path> folders) {
        this.folders = List.copyOf(folders);
    }

    /** Everything {@code program} needs, libraries of libraries included. */
    public Needs of(Path program) throws IOException {
        Elf main = Elf.read(program);
        if (main.interpreter.isEmpty()) {
            throw new IOException(program + " has no ELF interpreter: it is static, or not a program");
        }
        Path interp = Path.of(main.interpreter.get());
        if (!Files.isRegularFile(interp)) {
            throw new IOException(program + " needs the loader " + interp + ", which is not on this host");
        }
        Map<String, Path> libs = new LinkedHashMap<>();
        Deque<String> todo = new ArrayDeque<>(main.needed);
        while (!todo.isEmpty()) {
            String name = todo.removeFirst();
            if (libs.containsKey(name)) {
                continue;
            }
            Path found = find(name).orElseThrow(() -> new IOException(program + " needs " + name
                    + ", which is in none of " + folders));
            libs.put(name, found);
            todo.addAll(Elf.read(found).needed);
        }
        return new Needs(Map.entry(main.interpreter.get(), interp), libs);
    }

    private Optional<Path> find(String name) {
        if (name.contains("/")) {
            Path p = Path.of(name);
            return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
        }
        return folders.stream().map(f -> f.resolve(name)).filter(Files::isRegularFile).findFirst();
    }

    /** The two things read from an ELF64 little-endian file. */
    record Elf(Optional<String> interpreter, List<String> needed) {

        static Elf read(Path file) throws IOException {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
            if (b.limit() < 64 || b.getInt(0) != 0x464c457f) {
                throw new IOException(file + " is not an ELF file");
            }
            if (b.get(4) != 2 || b.get(5) != 1) {
                throw new IOException(file + " is not a 64-bit little-endian ELF file");
            }
            long phoff = b.getLong(0x20);
            int phentsize = Short.toUnsignedInt(b.getShort(0x36));
            int phnum = Short.toUnsignedInt(b.getShort(0x38));
            List<long[]> loads = new ArrayList<>(); // vaddr, offset, filesz
            String interp = null;
            long dynOff = -1;
            long dynSize = 0;
            for (int i = 0; i < phnum; i++) {
                int at = Math.toIntExact(phoff + (long) i * phentsize);
                int type = b.getInt(at);
                long offset = b.getLong(at + 8);
                long vaddr = b.getLong(at + 16);
                long filesz = b.getLong(at + 32);
                if (type == PT_LOAD) {
                    loads.add(new long[] {vaddr, offset, filesz});
                } else if (type == PT_INTERP) {
                    interp = cString(b, Math.toIntExact(offset));
                } else if (type == PT_DYNAMIC) {
                    dynOff = offset;
                    dynSize = filesz;
                }
            }
            List<Long> neededAt = new ArrayList<>();
            long strtab = -1;
            if (dynOff >= 0) {
                for (long at = dynOff; at + 16 <= dynOff + dynSize; at += 16) {
                    long tag = b.getLong(Math.toIntExact(at));
                    long val = b.getLong(Math.toIntExact(at + 8));
                    if (tag == DT_NULL) {
                        break;
                    } else if (tag == DT_NEEDED) {
                        neededAt.add(val);
                    } else if (tag == DT_STRTAB) {
                        strtab = val;
                    }
                }
            }
            List<String> needed = new ArrayList<>();
            if (!neededAt.isEmpty()) {
                long strOff = fileOffset(loads, strtab, file);
                for (long n : neededAt) {
                    needed.add(cString(b, Math.toIntExact(strOff + n)));
                }
            }
            return new Elf(Optional.ofNullable(interp), needed);
        }

        private static long fileOffset(List<long[]> loads, long vaddr, Path file) throws IOException {
            for (long[] l : loads) {
                if (vaddr >= l[0] && vaddr < l[0] + l[2]) {
                    return vaddr - l[0] + l[1];
                }
            }
            throw new IOException(file + ": the dynamic string table is in no loaded segment");
        }

        private static String cString(ByteBuffer b, int at) {
            int end = at;
            while (end < b.limit() && b.get(end) != 0) {
                end++;
            }
            byte[] s = new byte[end - at];
            b.get(at, s);
            return new String(s, StandardCharsets.UTF_8);
        }
    }
}
