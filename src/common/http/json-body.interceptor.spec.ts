import { describe, expect, it } from '@jest/globals';
import { RequestMethod, type Type } from '@nestjs/common';
import { INTERCEPTORS_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { GroupsController } from '../../groups/groups.controller.js';
import { HealthController } from '../../health/health.controller.js';
import { MetricsController } from '../../observability/metrics.controller.js';
import { MetadataController } from '../../odata/metadata.controller.js';
import { UsersController } from '../../users/users.controller.js';
import { JsonBodyInterceptor } from './json-body.interceptor.js';

/**
 * Bodies are read per handler (@ReadsJsonBody), not by a global interceptor. A write route that
 * forgot the mark would see no body; a read route with any interceptor would pay for an rxjs
 * pipeline on every request. The routes' own metadata says which is which.
 */
const CONTROLLERS: Type[] = [GroupsController, UsersController, MetadataController, HealthController, MetricsController];
const TAKES_A_BODY = new Set([RequestMethod.POST, RequestMethod.PUT, RequestMethod.PATCH]);

function routesOf(controller: Type): Array<{ name: string; method: RequestMethod; interceptors: unknown[] }> {
  const prototype = controller.prototype as Record<string, unknown>;
  return Object.getOwnPropertyNames(prototype)
    .map((name) => ({ name, handler: prototype[name] }))
    .filter(({ handler }) => typeof handler === 'function' && Reflect.hasMetadata(PATH_METADATA, handler))
    .map(({ name, handler }) => ({
      name: `${controller.name}.${name}`,
      method: Reflect.getMetadata(METHOD_METADATA, handler as object) as RequestMethod,
      interceptors: (Reflect.getMetadata(INTERCEPTORS_METADATA, handler as object) as unknown[] | undefined) ?? [],
    }));
}

describe('JSON bodies', () => {
  const routes = CONTROLLERS.flatMap(routesOf);

  it('finds the routes', () => {
    expect(routes.filter((route) => TAKES_A_BODY.has(route.method)).length).toBeGreaterThanOrEqual(12);
    expect(routes.filter((route) => route.method === RequestMethod.GET).length).toBeGreaterThanOrEqual(10);
  });

  it('are read by every POST, PUT and PATCH handler, and by no other', () => {
    const reading = (route: (typeof routes)[number]) => route.interceptors.includes(JsonBodyInterceptor);
    expect(routes.filter((route) => TAKES_A_BODY.has(route.method) && !reading(route)).map((route) => route.name)).toEqual([]);
    expect(routes.filter((route) => !TAKES_A_BODY.has(route.method) && route.interceptors.length > 0).map((route) => route.name)).toEqual([]);
  });
});
