// A checker of CloudWatch embedded metric format (EMF) log lines, written from the specification
// (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).

const UNITS = new Set([
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes', 'Bits', 'Kilobits', 'Megabits',
  'Gigabits', 'Terabits', 'Percent', 'Count', 'Bytes/Second', 'Kilobytes/Second', 'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second',
  'Bits/Second', 'Kilobits/Second', 'Megabits/Second', 'Gigabits/Second', 'Terabits/Second', 'Count/Second', 'None',
]);

const isName = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= 1024;

/** The ways a log line breaks the EMF specification (empty: a valid EMF document). */
export function emfViolations(line: string): string[] {
  const problems: string[] = [];
  let root: Record<string, unknown>;
  try {
    root = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return ['not JSON'];
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) return ['the root is not an object'];
  const aws = root._aws as { Timestamp?: unknown; CloudWatchMetrics?: unknown } | undefined;
  if (typeof aws !== 'object' || aws === null) return ['no _aws metadata object'];
  if (typeof aws.Timestamp !== 'number' || !Number.isInteger(aws.Timestamp) || aws.Timestamp <= 0) problems.push('_aws.Timestamp is not epoch milliseconds');
  if (!Array.isArray(aws.CloudWatchMetrics) || aws.CloudWatchMetrics.length === 0) return [...problems, '_aws.CloudWatchMetrics is not a non-empty array'];
  for (const [i, directive] of (aws.CloudWatchMetrics as Record<string, unknown>[]).entries()) {
    const at = `CloudWatchMetrics[${i}]`;
    if (!isName(directive.Namespace) || directive.Namespace.trim() === '') problems.push(`${at}.Namespace is not a namespace`);
    if (!Array.isArray(directive.Dimensions)) problems.push(`${at}.Dimensions is not an array`);
    for (const [j, set] of ((directive.Dimensions as unknown[]) ?? []).entries()) {
      if (!Array.isArray(set) || set.length > 30) {
        problems.push(`${at}.Dimensions[${j}] is not an array of at most 30 names`);
        continue;
      }
      for (const key of set) if (!isName(key) || typeof root[key] !== 'string') problems.push(`${at}.Dimensions[${j}] names "${String(key)}", which is not a string member of the root`);
    }
    if (!Array.isArray(directive.Metrics) || directive.Metrics.length === 0 || directive.Metrics.length > 100) {
      problems.push(`${at}.Metrics is not an array of 1 to 100 definitions`);
      continue;
    }
    for (const [k, metric] of (directive.Metrics as Record<string, unknown>[]).entries()) {
      const value = root[metric.Name as string];
      if (!isName(metric.Name)) {problems.push(`${at}.Metrics[${k}].Name is not a name`);} else if (!(typeof value === 'number' || (Array.isArray(value) && value.length <= 100 && value.every((v) => typeof v === 'number')))) {
        problems.push(`${at}.Metrics[${k}] "${metric.Name}" has no numeric member in the root`);
      }
      if (metric.Unit !== undefined && !UNITS.has(metric.Unit as string)) problems.push(`${at}.Metrics[${k}].Unit "${String(metric.Unit)}" is not a CloudWatch unit`);
      if (metric.StorageResolution !== undefined && metric.StorageResolution !== 1 && metric.StorageResolution !== 60) problems.push(`${at}.Metrics[${k}].StorageResolution is not 1 or 60`);
    }
  }
  return problems;
}
