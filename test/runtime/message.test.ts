import { isMaintenanceEvent, MAINTENANCE_EVENT } from '../../src/runtime/contract';
import { decodeMessageBody, encodeMessageBody } from '../../src/runtime/message';

describe('The wire format', () => {
  it('encodes { task_id, task_name, kwargs } (fixture)', () => {
    const body = encodeMessageBody({ task_id: '3f2c6d1e-8a4b-4c5d-9e6f-0a1b2c3d4e5f', task_name: 'emails.sendWelcomeEmail', kwargs: { userId: 42, template: 'welcome' } });
    expect(body).toBe('{"task_id":"3f2c6d1e-8a4b-4c5d-9e6f-0a1b2c3d4e5f","task_name":"emails.sendWelcomeEmail","kwargs":{"userId":42,"template":"welcome"}}');
  });

  it('decodes a body with task_id', () => {
    const decoded = decodeMessageBody('{"task_id":"3f2c6d1e-8a4b-4c5d-9e6f-0a1b2c3d4e5f","task_name":"a.b","kwargs":{"x":1}}');
    expect(decoded).toEqual({ ok: true, body: { task_id: '3f2c6d1e-8a4b-4c5d-9e6f-0a1b2c3d4e5f', task_name: 'a.b', kwargs: { x: 1 } } });
  });

  it('decodes the seed’s body without task_id (another producer)', () => {
    expect(decodeMessageBody('{"task_name":"myapp.tasks.send_welcome_email","kwargs":{"user_id":42,"template":"welcome"}}')).toEqual({
      ok: true,
      body: { task_name: 'myapp.tasks.send_welcome_email', kwargs: { user_id: 42, template: 'welcome' } },
    });
  });

  it.each([
    ['not json', 'body is not JSON'],
    ['{"kwargs":{}}', 'task_name: '],
    ['{"task_name":"a","kwargs":[]}', 'kwargs: '],
    ['{"task_id":"nope","task_name":"a","kwargs":{}}', 'task_id: '],
  ])('rejects %s, saying why', (text, reason) => {
    const decoded = decodeMessageBody(text);
    expect(decoded.ok).toBe(false);
    expect((decoded as { reason: string }).reason).toContain(reason);
  });

  it('recognises the maintenance event', () => {
    expect(MAINTENANCE_EVENT).toEqual({ lambdaTasks: 'maintenance', v: 1 });
    expect(isMaintenanceEvent({ lambdaTasks: 'maintenance', v: 1 })).toBe(true);
    expect(isMaintenanceEvent({ Records: [] })).toBe(false);
  });
});
