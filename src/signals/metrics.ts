import { SIGNAL_STATUSES } from './assess.js';
import { SIGNAL_NAMES } from './port.js';
import { metricFamily as family, type MetricFamily, type MetricsCollector } from '../metrics/prometheus.js';
import type { SignalRegistry } from './registry.js';

/**
 * Every pair's signals as Prometheus families. A signal without a value has no
 * `pgshift_signal_value` sample (absent, not zero: zero lag would be good news);
 * its status says `unknown` instead.
 */
export function signalMetrics(registry: SignalRegistry): MetricsCollector {
  return {
    collect(): MetricFamily[] {
      const families = {
        value: family('pgshift_signal_value', 'Newest measured value of a signal (rates 0..1, lag in seconds or bytes, latency in ms).', 'gauge'),
        limit: family('pgshift_signal_limit', 'Limit the newest reading was held to (absolute, or tighter when relative to blue); a value above it is a breach.', 'gauge'),
        reverts: family('pgshift_signal_reverts', 'The assessment sends traffic back to blue now: 1, else 0.', 'gauge'),
        status: family('pgshift_signal_status', 'Assessment of a signal: 1 for its current status, 0 for the others.', 'gauge'),
        breaches: family('pgshift_signal_consecutive_breaches', 'Readings over the limit in a row.', 'gauge'),
        errors: family('pgshift_signal_consecutive_errors', 'Failed readings in a row.', 'gauge'),
        at: family('pgshift_signal_last_sample_timestamp_seconds', 'When the newest reading was taken (Unix time).', 'gauge'),
        samples: family('pgshift_signal_samples_total', 'Readings taken since the service started.', 'counter'),
        failed: family('pgshift_signal_failed_samples_total', 'Readings without a value since the service started.', 'counter'),
        drift: family('pgshift_schema_drift_objects', 'Objects that differ between blue\'s and green\'s schemas at the newest comparison (absent before one).', 'gauge'),
      };
      for (const pair of registry.all()) {
        for (const s of pair.latest()) {
          const labels = { pair: pair.pairId, signal: s.name, side: s.side ?? undefined };
          if (s.measurement?.value !== null && s.measurement?.value !== undefined) {
            families.value.samples.push({ labels, value: s.measurement.value });
          }
          families.limit.samples.push({ labels, value: s.assessment.limit });
          families.reverts.samples.push({ labels, value: s.assessment.reverts ? 1 : 0 });
          for (const status of SIGNAL_STATUSES) {
            families.status.samples.push({ labels: { ...labels, status }, value: s.assessment.status === status ? 1 : 0 });
          }
          families.breaches.samples.push({ labels, value: s.assessment.consecutiveBreaches });
          families.errors.samples.push({ labels, value: s.assessment.consecutiveErrors });
          if (s.measurement) families.at.samples.push({ labels, value: s.measurement.at / 1000 });
          families.samples.samples.push({ labels, value: s.samples });
          families.failed.samples.push({ labels, value: s.failedSamples });
          if (s.name === SIGNAL_NAMES.schemaDrift && typeof s.measurement?.value === 'number') {
            families.drift.samples.push({ labels: { pair: pair.pairId }, value: s.measurement.value });
          }
        }
      }
      return Object.values(families);
    },
  };
}

