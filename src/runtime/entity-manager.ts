import { RequestContext, TransactionContext, type EntityManager } from '@mikro-orm/core';
import { LambdaTasksError } from './errors';
import { hasEntity } from './orm';
import { hasDispatchSubscriber } from './outbox';
import { TaskRecord } from './record';

/** The given EntityManager, else the current `em.transactional()` one, else the RequestContext's, else undefined. */
export function findEntityManager(em: EntityManager | undefined): EntityManager | undefined {
  return em ?? TransactionContext.getEntityManager() ?? RequestContext.getEntityManager();
}

/**
 * The EntityManager to use: the given one, else the one of the current
 * `em.transactional()` callback, else the request's (`RequestContext`); none → a clear error.
 */
export function resolveEntityManager(em: EntityManager | undefined, caller: string): EntityManager {
  const found = findEntityManager(em);
  if (!found) {
    throw new LambdaTasksError(
      `${caller}: no EntityManager: pass { em }, or call it inside em.transactional(...) or a RequestContext`,
    );
  }
  return found;
}

/** Event managers (one per ORM, shared by its forks) already seen with the entity and the subscriber. */
const configured = new WeakSet<object>();

/** Throws unless the em's ORM was configured with withLambdaTasks() (entity and dispatch subscriber). */
export function assertLambdaTasksConfigured(em: EntityManager, caller: string): void {
  const events = em.getEventManager();
  if (configured.has(events)) return;
  if (!hasEntity(em, TaskRecord.name) || !hasDispatchSubscriber(em)) {
    throw new LambdaTasksError(
      `${caller}: this MikroORM instance does not know TaskRecord and its dispatch subscriber: wrap your config with withLambdaTasks(...)`,
    );
  }
  configured.add(events);
}
