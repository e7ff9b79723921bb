package io.zonekeeper.network.host;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.Assume;
import org.junit.Test;

public class IpHostTest {
    private static final String SCRIPT = IpHost.natScript("my-net", "zkb-my-net", "10.99.7.0/24");

    @Test
    public void theNatScriptMasqueradesTheSubnetLeavingByAnyOtherInterfaceInATableOfTheNetworksOwn() {
        assertEquals("zk_my_net", IpHost.table("my-net"));
        assertEquals("add table ip zk_my_net\n"
                + "add chain ip zk_my_net postrouting { type nat hook postrouting priority srcnat; }\n"
                + "add rule ip zk_my_net postrouting ip saddr 10.99.7.0/24 oifname != \"zkb-my-net\" masquerade\n"
                + "add chain ip zk_my_net forward { type filter hook forward priority filter; }\n"
                + "add rule ip zk_my_net forward iifname \"zkb-my-net\" oifname \"zkb-*\" drop\n", SCRIPT);
    }

    /**
     * The script as the kernel takes it: loaded by the real nft in a network namespace of its own (unshare --net,
     * which dies with the command), never in this machine's. Skipped where there is no nft or no namespace.
     */
    @Test
    public void nftLoadsTheScriptAndListsTheRulesBack() throws Exception {
        Assume.assumeTrue("needs nft and unshare --net", run(List.of("unshare", "--net", "nft", "--version"), "")
                .startsWith("0:"));
        String out = run(List.of("unshare", "--net", "sh", "-c", "nft -f - && nft list table ip zk_my_net"), SCRIPT);
        assertTrue(out, out.startsWith("0:"));
        assertTrue(out, out.contains("type nat hook postrouting priority srcnat"));
        assertTrue(out, out.contains("ip saddr 10.99.7.0/24 oifname != \"zkb-my-net\" masquerade"));
        assertTrue(out, out.contains("iifname \"zkb-my-net\" oifname \"zkb-*\" drop"));
    }

    /** "EXIT:OUTPUT"; "-1:why" where it could not run. */
    private static String run(List<String> cmd, String input) throws Exception {
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (java.io.IOException e) {
            return "-1:" + e.getMessage();
        }
        try (var in = p.getOutputStream()) {
            in.write(input.getBytes(StandardCharsets.UTF_8));
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return "-1:timed out";
        }
        return p.exitValue() + ":" + out;
    }
}
