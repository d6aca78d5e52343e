// oasis/metrics: the registry of metric sources, the Influx line-protocol encoder, the control
// protocol of mirage-monitoring, and the monitoring device of the generated main.
export {
  metricsSource,
  collectMetrics,
  enableMetrics,
  disableMetrics,
  listMetricsSources,
  metricsRules,
  resetMetricsRules,
  fieldName,
  type MetricsSource,
  type MetricsSourceOptions,
  type MetricsSelector,
  type DataPoint,
  type Tags,
  type CollectFailure,
} from "./registry.ts";
export { encodeLine, encodeLines, formatFieldValue, packLines } from "./influx.ts";
export { handleCommand } from "./control.ts";
export { monitoringDevice, parseMonitorTarget, formatMonitorTarget, DEFAULT_MONITOR_PORT, DEFAULT_CONTROL_PORT, type Monitoring, type MonitorTarget } from "./monitoring.ts";
