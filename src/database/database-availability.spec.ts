import { describe, expect, it, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { DatabaseAvailability } from './database-availability.js';

const lost = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });

describe('DatabaseAvailability', () => {
  it('logs an outage once when it starts and once when a statement started after it succeeds', () => {
    const error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    try {
      const availability = new DatabaseAvailability();
      const before = availability.epoch;
      const refusal = availability.unavailable(lost);
      expect(refusal.status).toBe(503);
      expect(refusal.code).toBe('DatabaseUnavailable');
      expect(refusal.headers?.['Retry-After']).toBe('2');
      availability.unavailable(lost);
      availability.unavailable(lost);
      expect(error).toHaveBeenCalledTimes(1);
      expect(String(error.mock.calls[0]![0])).toContain('terminating connection due to administrator command (57P01)');

      // A statement already under way when the outage was noticed proves nothing.
      availability.reachable(before);
      expect(availability.isDown).toBe(true);
      expect(log).not.toHaveBeenCalled();

      availability.reachable(availability.epoch);
      expect(availability.isDown).toBe(false);
      expect(log).toHaveBeenCalledTimes(1);
      expect(String(log.mock.calls[0]![0])).toMatch(/available again after [\d.]+ s \(3 statements failed meanwhile\)/);
      availability.reachable(availability.epoch);
      expect(log).toHaveBeenCalledTimes(1);
    } finally {
      error.mockRestore();
      log.mockRestore();
    }
  });

  it('treats every failure as "away" once the embedded database is closed', () => {
    const availability = new DatabaseAvailability();
    let closed = false;
    availability.watchClosed(() => closed);
    const bug = new TypeError("Cannot read properties of undefined (reading '_PostgresSendReadyForQueryIfNecessary')");
    expect(availability.explains(bug)).toBe(false);
    closed = true;
    expect(availability.explains(bug)).toBe(true);
  });
});
