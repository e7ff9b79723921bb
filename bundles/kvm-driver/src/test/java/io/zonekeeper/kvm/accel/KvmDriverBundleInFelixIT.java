package io.zonekeeper.kvm.accel;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertSame;
import static org.junit.Assert.assertTrue;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.stream.Stream;

import org.apache.felix.framework.FrameworkFactory;
import org.junit.After;
import org.junit.Assume;
import org.junit.Before;
import org.junit.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.Constants;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.wiring.BundleWiring;

/**
 * The built kvm-driver jar in a real Felix: it resolves with nothing but its declared imports, exports nothing,
 * and its privately embedded jnr-ffi binds libc and reports errno from inside the framework.
 */
public class KvmDriverBundleInFelixIT {

    private Path work;
    private Framework felix;
    private Bundle driver;

    @Before
    public void startFelixWithTheDriver() throws Exception {
        Path jar = Path.of(System.getProperty("kvm.driver.jar"));
        Path others = Path.of(System.getProperty("it.bundles"));
        assertTrue("built bundle " + jar, Files.isRegularFile(jar));
        work = Files.createTempDirectory("kvm-driver-it-");

        Map<String, String> config = new HashMap<>();
        config.put(Constants.FRAMEWORK_STORAGE, work.resolve("felix-cache").toString());
        config.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        felix = new FrameworkFactory().newFramework(config);
        felix.start();
        BundleContext ctx = felix.getBundleContext();

        List<Bundle> installed = new ArrayList<>();
        try (Stream<Path> jars = Files.list(others)) {
            for (Path p : jars.filter(f -> f.toString().endsWith(".jar")).sorted().toList()) {
                if (isBundle(p)) {
                    installed.add(ctx.installBundle(p.toUri().toString()));
                }
            }
        }
        driver = ctx.installBundle(jar.toUri().toString());
        installed.add(driver);
        for (Bundle b : installed) {
            if (b.getHeaders().get(Constants.FRAGMENT_HOST) == null) {
                b.start();
            }
        }
    }

    @After
    public void stopFelix() throws Exception {
        if (felix != null) {
            felix.stop();
            felix.waitForStop(10_000);
        }
        if (work != null) {
            try (Stream<Path> walk = Files.walk(work)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    @Test
    public void driverResolvesExportsNothingAndImportsNoJnr() {
        assertEquals(Bundle.ACTIVE, driver.getState());
        assertNull("exports", driver.getHeaders().get(Constants.EXPORT_PACKAGE));
        String imports = driver.getHeaders().get(Constants.IMPORT_PACKAGE);
        assertNotNull(imports);
        for (String forbidden : new String[] {"com.kenai", "jnr.", "org.objectweb"}) {
            assertFalse("Import-Package mentions " + forbidden + ": " + imports, imports.contains(forbidden));
        }
    }

    @Test
    public void embeddedJffiIsLoadedByTheDriversOwnClassLoader() throws Exception {
        ClassLoader bundleLoader = driver.adapt(BundleWiring.class).getClassLoader();
        assertSame(bundleLoader, driver.loadClass("com.kenai.jffi.Foreign").getClassLoader());
        assertSame(bundleLoader, driver.loadClass("jnr.ffi.LibraryLoader").getClassLoader());
    }

    @Test
    public void jnrFfiCallsLibcFromInsideFelix() throws Exception {
        Class<?> probeClass = driver.loadClass("io.zonekeeper.kvm.accel.AcceleratorProbe");
        Object probe = probeClass.getConstructor(Path.class, String.class)
                .newInstance(work.resolve("cache"), "qemu-system-x86_64");
        Path kernel = Files.writeString(work.resolve("vmlinuz"), "not a kernel");
        Method decide = probeClass.getMethod("decide", String.class, Path.class, Path.class, String.class);
        Object verdict = decide.invoke(probe, "auto", kernel, work.resolve("probe.cpio"), "MARKER");

        @SuppressWarnings("unchecked")
        Map<String, String> steps = (Map<String, String>) verdict.getClass().getMethod("steps").invoke(verdict);
        String reason = (String) verdict.getClass().getMethod("reason").invoke(verdict);
        String libc = steps.get("libc");
        assertNotNull("steps " + steps, libc);
        assertTrue(libc, libc.startsWith("ok") && libc.endsWith("getpid()=" + ProcessHandle.current().pid()));

        Assume.assumeFalse("this host has /dev/kvm", Files.exists(Path.of("/dev/kvm")));
        assertEquals("tcg", verdict.getClass().getMethod("accel").invoke(verdict));
        assertEquals("cannot open /dev/kvm: ENOENT (No such file or directory)", reason);
        assertTrue(steps.toString(), steps.get("open /dev/kvm").startsWith("failed"));
        assertFalse("no probe boot without /dev/kvm: " + steps,
                steps.keySet().stream().anyMatch(k -> k.startsWith("probe boot")));
    }

    private static boolean isBundle(Path jar) throws IOException {
        try (JarFile jf = new JarFile(jar.toFile())) {
            Manifest m = jf.getManifest();
            return m != null && m.getMainAttributes().getValue(Constants.BUNDLE_SYMBOLICNAME) != null;
        }
    }

}
