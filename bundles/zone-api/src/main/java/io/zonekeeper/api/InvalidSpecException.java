package io.zonekeeper.api;

import java.util.List;
import java.util.stream.Collectors;

/** A zone spec was refused. {@link #errors()} names every broken field, not just the first. */
public class InvalidSpecException extends ZoneException {
    private static final long serialVersionUID = 1L;
    private final List<FieldError> errors;

    public InvalidSpecException(List<FieldError> errors) {
        super(describe(errors));
        this.errors = List.copyOf(errors);
    }

    public List<FieldError> errors() {
        return errors;
    }

    private static String describe(List<FieldError> errors) {
        return "invalid zone spec: " + errors.stream().map(FieldError::toString).collect(Collectors.joining("; "));
    }
}
