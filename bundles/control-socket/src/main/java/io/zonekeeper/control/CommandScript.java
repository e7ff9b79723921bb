package io.zonekeeper.control;

import java.util.ArrayList;
import java.util.List;

import org.apache.felix.gogo.runtime.Parser;
import org.apache.felix.gogo.runtime.Parser.Executable;
import org.apache.felix.gogo.runtime.Parser.Operator;
import org.apache.felix.gogo.runtime.Token;

/**
 * Splits {@code "zone:list; driver:list --json"} into its statements, so that each statement's result is shown,
 * like lines of a script. Gogo itself keeps only the last statement's result of a {@code ;} sequence, which
 * would swallow the output of every command that returns its text instead of printing it.
 */
final class CommandScript {

    private CommandScript() {
    }

    /**
     * The statements of a plain {@code ;}/newline sequence; the whole line as one statement when it uses
     * {@code &&}, {@code ||} or {@code &} (Gogo's own semantics then apply), or when it does not parse (Gogo
     * then reports the syntax error).
     */
    static List<String> statements(String commandLine) {
        List<Executable> tokens;
        try {
            tokens = new Parser(commandLine).program().tokens();
        } catch (RuntimeException | AssertionError e) {
            // Gogo's tokenizer asserts where, without -ea, it throws its EOFError (an unclosed quote): either way
            // the line goes to Gogo whole, which reports the syntax error.
            return List.of(commandLine);
        }
        List<String> statements = new ArrayList<>();
        for (Executable token : tokens) {
            if (token instanceof Operator) {
                if (!Token.eq(";", token) && !Token.eq("\n", token)) {
                    return List.of(commandLine);
                }
            } else {
                String text = token.toString().trim();
                if (!text.isEmpty()) {
                    statements.add(text);
                }
            }
        }
        return statements.isEmpty() ? List.of(commandLine) : statements;
    }
}
