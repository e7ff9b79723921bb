package io.zonekeeper.core;

import java.util.ArrayList;
import java.util.List;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.namespace.PackageNamespace;
import org.osgi.framework.wiring.BundleRequirement;
import org.osgi.framework.wiring.BundleRevision;
import org.osgi.framework.wiring.FrameworkWiring;
import org.osgi.resource.Namespace;

/**
 * Says why an installed bundle does not resolve, requirement by requirement, so that a jar dropped into deploy/
 * never fails silently: an operator sees the exact package or capability it is missing.
 */
public final class BundleDiagnosis {
    private BundleDiagnosis() {
    }

    /** A bundle that is installed but not resolved, with what it lacks. */
    public record Unresolved(long id, String symbolicName, String version, String location, List<String> missing) {
    }

    public static List<Unresolved> unresolved(BundleContext context) {
        FrameworkWiring wiring = context.getBundle(0).adapt(FrameworkWiring.class);
        List<Unresolved> out = new ArrayList<>();
        for (Bundle b : context.getBundles()) {
            if (b.getState() != Bundle.INSTALLED) {
                continue;
            }
            BundleRevision rev = b.adapt(BundleRevision.class);
            List<String> missing = new ArrayList<>();
            if (rev != null) {
                for (BundleRequirement req : rev.getDeclaredRequirements(null)) {
                    String resolution = req.getDirectives().get(Namespace.REQUIREMENT_RESOLUTION_DIRECTIVE);
                    if (Namespace.RESOLUTION_OPTIONAL.equals(resolution)) {
                        continue;
                    }
                    if (wiring.findProviders(req).isEmpty()) {
                        missing.add(describe(req));
                    }
                }
            }
            if (missing.isEmpty()) {
                missing.add("nothing declared is missing; a requirement of one of its providers may be (check the "
                        + "other unresolved bundles)");
            }
            out.add(new Unresolved(b.getBundleId(), b.getSymbolicName(), b.getVersion().toString(), b.getLocation(),
                    missing));
        }
        return out;
    }

    private static String describe(BundleRequirement req) {
        String filter = req.getDirectives().getOrDefault(Namespace.REQUIREMENT_FILTER_DIRECTIVE, "");
        if (PackageNamespace.PACKAGE_NAMESPACE.equals(req.getNamespace())) {
            return "package " + filter;
        }
        return req.getNamespace() + " " + filter;
    }
}
