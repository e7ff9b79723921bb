package io.zonekeeper.images;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * What a packed squashfs image really holds, read back with sqfs2tar (squashfs-tools-ng, installed by
 * scripts/setup together with tar2sqfs): each path with its tar header and, for regular files, its content.
 */
final class PackedImage {
    record Item(TarArchiveEntry entry, String content) {
    }

    final Map<String, Item> items = new LinkedHashMap<>();

    static PackedImage read(Path squashfs) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("sqfs2tar", squashfs.toString()).start();
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return e.toString();
            }
        });
        PackedImage image = new PackedImage();
        try (InputStream in = p.getInputStream(); TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
            for (TarArchiveEntry e; (e = tar.getNextEntry()) != null;) {
                String name = e.getName().replaceAll("/$", "").replaceAll("^\\./", "");
                ByteArrayOutputStream data = new ByteArrayOutputStream();
                if (e.isFile() && !e.isLink()) {
                    tar.transferTo(data);
                }
                image.items.put(name, new Item(e, data.toString(StandardCharsets.UTF_8)));
            }
            in.transferTo(ByteArrayOutputStream.nullOutputStream());
        }
        if (p.waitFor() != 0) {
            throw new IOException("sqfs2tar failed: " + err.join());
        }
        return image;
    }

    TarArchiveEntry get(String path) {
        Item i = items.get(path);
        if (i == null) {
            throw new AssertionError(path + " is not in the packed image; it holds " + items.keySet());
        }
        return i.entry();
    }

    String content(String path) {
        get(path);
        return items.get(path).content();
    }

    boolean has(String path) {
        return items.containsKey(path);
    }
}
