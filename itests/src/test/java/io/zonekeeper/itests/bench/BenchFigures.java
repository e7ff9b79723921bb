package io.zonekeeper.itests.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import jakarta.json.Json;
import jakarta.json.JsonObjectBuilder;

/**
 * The machine-readable side of a benchmark's figures: where {@code ZK_BENCH_JSON} names a file, each figure is also
 * appended there as one JSON record per line, the format {@code scripts/bench.d/figures.py} appends from shell
 * sections and assembles into {@code scripts/bench --json}'s document. Without the variable it writes nothing, so a
 * benchmark run alone prints only its human lines.
 */
final class BenchFigures {
    private final String section;
    private final Path file;

    BenchFigures(String section) {
        this(section, System.getenv("ZK_BENCH_JSON"));
    }

    BenchFigures(String section, String file) {
        this.section = section;
        this.file = file == null || file.isEmpty() ? null : Path.of(file);
    }

    /** A figure without a baseline. */
    void figure(String name, double value, String unit) {
        write(record(name, value, unit));
    }

    /** A figure beside its baseline measured in the same run; the ratio is value / baseline. */
    void figure(String name, double value, double baseline, String unit, String target) {
        JsonObjectBuilder r = record(name, value, unit).add("baseline", baseline);
        if (baseline > 0) {
            r.add("ratio", Math.round(value / baseline * 1000) / 1000.0);
        }
        if (target != null) {
            r.add("target", target);
        }
        write(r);
    }

    /** The section could not produce its figures; the reason says what failed. */
    void failed(String reason) {
        write(Json.createObjectBuilder().add("section", section).add("failed", reason));
    }

    private JsonObjectBuilder record(String name, double value, String unit) {
        return Json.createObjectBuilder().add("section", section).add("figure", name).add("value", value)
                .add("unit", unit);
    }

    private void write(JsonObjectBuilder r) {
        if (file == null) {
            return;
        }
        try {
            Files.writeString(file, r.build().toString() + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            // The human line is already printed; a lost record must not end the benchmark, but must be seen.
            System.err.println("benchmark figures: cannot append to " + file + ": " + e.getMessage());
        }
    }
}
