import { Counter, Histogram, type Registry } from 'prom-client';

/** The HTTP metrics on a registry, created once per registry. */
export function httpMetrics(registry: Registry) {
  const requests =
    (registry.getSingleMetric('offerflow_http_requests_total') as
      | Counter<'method' | 'route' | 'status'>
      | undefined) ??
    new Counter({
      name: 'offerflow_http_requests_total',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    });
  const duration =
    (registry.getSingleMetric('offerflow_http_request_duration_seconds') as
      | Histogram<'method' | 'route'>
      | undefined) ??
    new Histogram({
      name: 'offerflow_http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
  return { requests, duration };
}
