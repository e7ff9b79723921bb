package io.zonekeeper.api;

import java.util.Objects;

/** One broken field of a spec: its path (such as {@code devices[0].address}) and what is wrong with it. */
public final class FieldError {
    private final String field;
    private final String message;

    public FieldError(String field, String message) {
        this.field = Objects.requireNonNull(field, "field");
        this.message = Objects.requireNonNull(message, "message");
    }

    public String field() {
        return field;
    }

    public String message() {
        return message;
    }

    @Override
    public String toString() {
        return field + ": " + message;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FieldError other && field.equals(other.field) && message.equals(other.message);
    }

    @Override
    public int hashCode() {
        return Objects.hash(field, message);
    }
}
