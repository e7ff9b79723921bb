package io.zonekeeper.observe;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

import org.osgi.service.component.annotations.Component;
import org.osgi.service.component.annotations.Reference;
import org.osgi.service.component.annotations.ReferenceCardinality;
import org.osgi.service.component.annotations.ReferencePolicy;
import org.osgi.service.component.annotations.ReferencePolicyOption;

import io.zonekeeper.api.ZoneInfo;
import io.zonekeeper.api.ZoneManager;
import io.zonekeeper.api.metrics.ZoneMetric;
import io.zonekeeper.api.metrics.ZoneMetricsSource;

/**
 * Asks every metrics source about every zone, when asked: nothing is sampled in the background, so metrics cost
 * nothing until someone looks. A source that fails is left out of that sample and logged; the others still count.
 */
@Component(service = MetricsCollector.class)
public class MetricsCollector {
    private static final System.Logger LOG = System.getLogger("io.zonekeeper.observe");
    private final List<ZoneMetricsSource> sources = new CopyOnWriteArrayList<>();

    @Reference
    private ZoneManager zones;

    public MetricsCollector() {
    }

    MetricsCollector(ZoneManager zones, List<ZoneMetricsSource> sources) {
        this.zones = zones;
        this.sources.addAll(sources);
    }

    @Reference(service = ZoneMetricsSource.class, cardinality = ReferenceCardinality.MULTIPLE,
            policy = ReferencePolicy.DYNAMIC, policyOption = ReferencePolicyOption.GREEDY)
    void addSource(ZoneMetricsSource s) {
        sources.add(s);
    }

    void removeSource(ZoneMetricsSource s) {
        sources.remove(s);
    }

    /** Every zone, by name. */
    List<ZoneSample> sampleAll() {
        List<ZoneSample> out = new ArrayList<>();
        for (ZoneInfo z : zones.list()) {
            out.add(sample(z));
        }
        out.sort(Comparator.comparing(ZoneSample::zone));
        return out;
    }

    Optional<ZoneSample> sample(String name) {
        return zones.get(name).map(this::sample);
    }

    private ZoneSample sample(ZoneInfo z) {
        List<ZoneMetric> metrics = new ArrayList<>();
        for (ZoneMetricsSource s : sources) {
            try {
                metrics.addAll(s.collect(z));
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "metrics source " + s.getClass().getName() + " failed for zone " + z.name()
                        + ": " + e);
            }
        }
        return new ZoneSample(z.name(), z.state().name(), z.driver() == null ? "-" : z.driver(),
                System.currentTimeMillis(), metrics);
    }
}
