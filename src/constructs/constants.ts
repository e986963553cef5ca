/** How often the scheduled rule sends the maintenance event to the default queue's worker, in minutes. */
export const MAINTENANCE_SCHEDULE_MINUTES = 5;
