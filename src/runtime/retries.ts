import { MAX_TIMEOUT_SECONDS } from './config';

/** Seconds before attempt `attempt + 1`: retryDelay × 2^(attempt − 1), plus up to 20 % jitter, capped at 900 s (SQS's largest delay). */
export function retryDelaySeconds(baseSeconds: number, attempt: number, random: () => number = Math.random): number {
  const exponential = baseSeconds * 2 ** Math.max(0, attempt - 1);
  const jitter = exponential * 0.2 * random();
  return Math.min(MAX_TIMEOUT_SECONDS, Math.round(exponential + jitter));
}
